"""CoOp against its definition: context vectors in front of the class name, through CLIP's own text encoder."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import SHAPES

from synrec.coop import PromptLearner, coop_epochs, coop_lr, evaluate_coop, train_coop
from synrec.models import load_clip

CFG = {"n_ctx": 4, "init_std": 0.02, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 4,
       "warmup_epochs": 1, "warmup_lr": 1e-5, "epochs": {"1": 50, "2": 100, "16": 200},
       "dataset_epochs": {"imagenet": 50}}


@pytest.fixture(scope="module")
def clip(tiny_models):
    return load_clip({"model": f"local-dir:{tiny_models['clip_rn']}"})


def test_context_set_to_words_gives_clips_own_text_embedding_of_that_prompt(clip):
    model, _, tok = clip
    prompts = PromptLearner(model, tok, SHAPES, n_ctx=4)
    words = tok(["a photo of a"])[0, 1:5]  # four single BPE tokens after start-of-text
    with torch.no_grad():
        prompts.ctx.copy_(model.token_embedding(words))
        expected = F.normalize(model.encode_text(tok([f"a photo of a {c}." for c in SHAPES])), dim=-1)
        assert torch.allclose(prompts(), expected, atol=1e-5)
    # the class name follows the context: the token after the last context slot is the class name's first token
    assert torch.equal(prompts.tokens[:, 5], tok(SHAPES)[:, 1])


def test_training_moves_only_the_context_and_lowers_the_loss(clip):
    model, _, tok = clip
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, model.visual.output_dim)).astype(np.float32)
    y = np.repeat(np.arange(4), 4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    prompts, hist = train_coop(model, tok, SHAPES, x, y, CFG, epochs=30, seed=1)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert hist[0]["lr"] == CFG["warmup_lr"]
    assert hist[1]["lr"] == pytest.approx(CFG["lr"] * 0.5 * (1 + np.cos(np.pi / 30)))
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]  # (a 1-layer random text tower fits the loss, not the labels)
    assert evaluate_coop(prompts, x, y)["n"] == 16
    again, _ = train_coop(model, tok, SHAPES, x, y, CFG, epochs=30, seed=1)
    assert torch.equal(again.ctx, prompts.ctx)  # deterministic from the seed


def test_schedule_follows_coops_configs():
    assert [coop_epochs(CFG, k, "eurosat") for k in (1, 2, 16)] == [50, 100, 200]
    assert coop_epochs(CFG, 16, "imagenet") == 50
    assert coop_lr(0, CFG, 10) == 1e-5 and coop_lr(5, CFG, 10) == pytest.approx(CFG["lr"] * 0.5)
