"""CLIP-LoRA (issue 29): peft adapters on the attention of both CLIP encoders. The split attention computes what
open_clip's computes; untrained adapters, rank 0 and zero steps are zero-shot CLIP; training moves the adapters and
nothing else; the adapters round-trip in peft's format; relabelled classes train the same; the synthetic stream's
weight does what it says."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import SHAPES

from synrec.classifier_tuning import metrics_from_logits
from synrec.clip_lora import (
    DEFAULTS,
    add_adapters,
    evaluate_clip_lora,
    load_adapters,
    lora_delta_norm,
    save_adapters,
    split_attention,
    target_modules,
    train_clip_lora,
)
from synrec.datasets import Split
from synrec.demo_data import make_images
from synrec.errors import SynrecError
from synrec.features import encode_images, text_classifier, train_augmentation
from synrec.models import load_clip

TEMPLATE = "a photo of a {c}."
FAST = {"iters_per_shot": 4, "batch_size": 8, "lr": 0.01, "dropout": 0.0}


def _split(per_class, seed, name="train", classnames=SHAPES):
    arr, labels = make_images(classnames, per_class, 32, seed)
    return Split(dataset="shapes", split=name, labels=labels, array=arr)


def _clip(tiny_models, arch):
    return load_clip({"model": f"local-dir:{tiny_models['clip_vit' if arch == 'ViT' else 'clip_rn']}"})


def _batch(preprocess, split, n=8):
    return torch.stack([preprocess(split.image(i)) for i in range(n)])


def _base_state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" not in k}


@pytest.mark.parametrize("arch", ["ViT", "RN"])
def test_split_attention_computes_what_open_clip_computes(tiny_models, arch):
    model, pre, tok = _clip(tiny_models, arch)
    x, t = _batch(pre, _split(2, 0)), tok(["a photo of a circle.", "a square"])
    with torch.no_grad():
        img, txt = model.encode_image(x), model.encode_text(t)
        names = split_attention(model, "both")
        assert split_attention(model, "both") == names  # a second call changes nothing
        assert torch.allclose(model.encode_image(x), img, atol=1e-5)
        assert torch.allclose(model.encode_text(t), txt, atol=1e-5)
    vision = [n for n in names if n.startswith("visual.")]
    if arch == "RN":
        assert vision == ["visual.attnpool"]
    else:
        assert len(vision) == len(model.visual.transformer.resblocks)
    assert len(names) - len(vision) == len(model.transformer.resblocks)


def test_targets_name_the_chosen_projections_and_refuse_unknown_ones():
    assert target_modules(["visual.attnpool", "transformer.resblocks.0.attn"], ["q", "o"]) == [
        "visual.attnpool.q_proj", "visual.attnpool.c_proj",
        "transformer.resblocks.0.attn.q_proj", "transformer.resblocks.0.attn.out_proj"]
    with pytest.raises(SynrecError, match="few_shot.clip_lora.params"):
        target_modules(["transformer.resblocks.0.attn"], ["q", "query"])
    with pytest.raises(SynrecError, match="few_shot.clip_lora.encoder"):
        split_attention(torch.nn.Linear(2, 2), "image")


@pytest.mark.parametrize("arch", ["ViT", "RN"])
def test_rank_zero_zero_steps_and_untrained_adapters_are_zero_shot_clip(tiny_models, arch):
    model, pre, tok = _clip(tiny_models, arch)
    train, test = _split(2, 0), _split(6, 1, "test")
    # zero-shot CLIP as the workflow computes it: cached features against the one-template text classifier
    emb = text_classifier(model, tok, SHAPES, [TEMPLATE], "cpu")
    zs = metrics_from_logits(100.0 * F.normalize(torch.as_tensor(encode_images(model, pre, test, "cpu",
                                                                               progress=False)), dim=-1) @ emb.t(),
                             test.labels)
    aug = train_augmentation(pre, (0.08, 1.0))
    for cfg in ({"rank": 0}, {"iters_per_shot": 0}):
        out, peft_model, hist = train_clip_lora(model, tok, aug, train, np.arange(len(train)), SHAPES, TEMPLATE,
                                                {**FAST, **cfg}, 2, progress=False)
        assert out is model and peft_model is None and hist == []
        got = evaluate_clip_lora(out, tok, pre, test, SHAPES, TEMPLATE, progress=False)
        assert got["acc1"] == zs["acc1"] and got["correct"] == zs["correct"]
    # adapters added but not trained (B = 0) give the split model's outputs, bit for bit
    x = _batch(pre, test)
    split_attention(model, "both")
    with torch.no_grad():
        before = model.encode_image(x), model.encode_text(tok([TEMPLATE.replace("{c}", c) for c in SHAPES]))
        add_adapters(model, {**DEFAULTS, "dropout": 0.0}).eval()
        after = model.encode_image(x), model.encode_text(tok([TEMPLATE.replace("{c}", c) for c in SHAPES]))
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])


@pytest.mark.parametrize("arch", ["ViT", "RN"])
def test_training_moves_the_adapters_and_nothing_else_and_round_trips_in_peft_format(tiny_models, arch, tmp_path):
    model, pre, tok = _clip(tiny_models, arch)
    train = _split(4, 0)
    split_attention(model, "both")
    base = _base_state(model)
    model, peft_model, hist = train_clip_lora(model, tok, train_augmentation(pre, (0.5, 1.0)), train,
                                              np.arange(len(train)), SHAPES, TEMPLATE, FAST, 4, progress=False)
    assert len(hist) > 1 and hist[-1]["step"] == 16 and hist[-1]["lr"] == pytest.approx(DEFAULTS["eta_min"])
    assert lora_delta_norm(peft_model) > 1e-4  # it trained ...
    after = {k.replace(".base_layer", ""): v for k, v in _base_state(peft_model.base_model.model).items()}
    assert set(after) == set(base)
    assert [k for k in base if not torch.equal(after[k], base[k])] == []  # ... CLIP's own weights (BN too) did not
    save_adapters(peft_model, tmp_path / "ad")
    cfg = json.loads((tmp_path / "ad" / "adapter_config.json").read_text())
    assert cfg["r"] == 2 and cfg["use_rslora"] and cfg["peft_type"] == "LORA"
    assert (tmp_path / "ad" / "adapter_model.safetensors").is_file()
    fresh, _, _ = _clip(tiny_models, arch)
    reloaded = load_adapters(fresh, tmp_path / "ad")
    x = _batch(pre, _split(2, 3, "test"))
    with torch.no_grad():
        assert torch.allclose(reloaded.encode_image(x), model.encode_image(x), atol=1e-6)


def test_the_text_encoder_alone_leaves_the_image_features_as_they_were(tiny_models):
    model, pre, tok = _clip(tiny_models, "ViT")
    train, x = _split(4, 0), _batch(pre, _split(2, 5, "test"))
    prompts = tok([TEMPLATE.replace("{c}", c) for c in SHAPES])
    with torch.no_grad():
        img, txt = model.encode_image(x), model.encode_text(prompts)
    model, peft_model, _ = train_clip_lora(model, tok, pre, train, np.arange(len(train)), SHAPES, TEMPLATE,
                                           {**FAST, "encoder": "text"}, 4, progress=False)
    with torch.no_grad():
        assert torch.equal(model.encode_image(x), img)
        assert not torch.allclose(model.encode_text(prompts), txt, atol=1e-5)


def test_relabelled_classes_train_the_same_adapters_and_give_every_class_the_same_result(tiny_models):
    """Swap two classes' labels (images, names and prompts alike): each class keeps its recall and the adapters are
    the same (the shots are taken in class-name order, as everywhere else)."""
    perm = [2, 1, 0, 3]
    recalls, deltas = [], []
    train0, test0 = _split(3, 0), _split(6, 1, "test")
    for order in ([0, 1, 2, 3], perm):
        names, new = [SHAPES[c] for c in order], np.argsort(order)  # label l now holds class order[l]
        train, test = (Split(dataset="shapes", split=s.split, labels=new[np.asarray(s.labels)], array=s.array)
                       for s in (train0, test0))
        model, pre, tok = _clip(tiny_models, "ViT")
        shots = np.argsort(np.asarray(train.labels), kind="stable")  # in label order, as a store lists them
        model, peft_model, _ = train_clip_lora(model, tok, pre, train, shots, names, TEMPLATE, FAST, 3, progress=False)
        m = evaluate_clip_lora(model, tok, pre, test, names, TEMPLATE, progress=False)
        recalls.append({n: r for n, r in zip(names, m["recall_per_class"])})
        deltas.append(lora_delta_norm(peft_model))
    assert recalls[0] == recalls[1]
    assert deltas[0] == pytest.approx(deltas[1], rel=1e-6) and deltas[0] > 1e-4


def test_the_synthetic_share_weighs_the_synthetic_batches(tiny_models):
    """With ``syn_weight: 0`` the synthetic images' labels cannot matter; with 0.5 they do."""
    model0, pre, tok = _clip(tiny_models, "ViT")
    real, syn = _split(2, 0), _split(3, 4)
    wrong = Split(dataset="shapes", split="syn", labels=(np.asarray(syn.labels) + 1) % 4, array=syn.array)
    runs = {}
    for weight in (0.0, 0.5):
        for name, store in (("right", syn), ("wrong", wrong)):
            model, _, tok = _clip(tiny_models, "ViT")
            _, peft_model, _ = train_clip_lora(model, tok, pre, real, np.arange(len(real)), SHAPES, TEMPLATE,
                                               {**FAST, "syn_weight": weight}, 2, syn=store,
                                               syn_idx=np.arange(len(store)), progress=False)
            runs[(weight, name)] = torch.cat([p.detach().flatten() for n, p in peft_model.named_parameters()
                                              if "lora_B" in n])
    assert torch.equal(runs[(0.0, "right")], runs[(0.0, "wrong")])
    assert not torch.allclose(runs[(0.5, "right")], runs[(0.5, "wrong")], atol=1e-6)
