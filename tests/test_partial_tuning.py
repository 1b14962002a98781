"""Table 3's share-of-parameters count and what tuning down to a stage really trains."""

import pytest
import torch
from conftest import SHAPES
from test_frozen_bn import CFG, _split

from synrec.errors import SynrecError
from synrec.features import text_classifier
from synrec.frozen_bn import bn_running_means
from synrec.image_ct import train_image_ct
from synrec.models import load_clip
from synrec.partial_tuning import LEVELS, share_tuned, tuned_parameters


@pytest.fixture
def rn(tiny_models):
    return load_clip({"model": f"local-dir:{tiny_models['clip_rn']}"})


def test_shares_grow_from_the_head_to_everything_and_count_exactly(rn):
    visual = rn[0].visual
    head = 4 * visual.output_dim + 4  # a 4-class linear head
    shares = [share_tuned(visual, head, lv) for lv in LEVELS]
    assert [s for _, s in shares] == sorted(s for _, s in shares) and shares[-1][1] == pytest.approx(100.0)
    assert shares[0][0] == head  # head only
    attn = sum(p.numel() for p in visual.attnpool.parameters())
    assert shares[1][0] == head + attn
    assert shares[2][0] == head + attn + sum(p.numel() for p in visual.layer4.parameters())
    assert len(tuned_parameters(visual, "stem")) == len(list(visual.parameters()))


def test_tuning_down_to_layer4_changes_layer4_and_attnpool_only_and_keeps_bn_statistics(rn):
    model, preprocess, tok = rn
    emb = text_classifier(model, tok, SHAPES, ["a photo of a {c}."], "cpu")
    before = {k: v.clone() for k, v in model.visual.state_dict().items()}
    bn_before = bn_running_means(model.visual).clone()
    train = _split(2, 0, "train")
    cfg = {**CFG, "lr_encoder": 0.01}
    train_image_ct(model, preprocess, train, range(len(train)), emb, cfg, tune=tuned_parameters(model.visual, "layer4"),
                   progress=False)
    after = model.visual.state_dict()
    changed = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"attnpool", "layer4"}
    assert torch.equal(bn_running_means(model.visual), bn_before)  # BN frozen while tuning
    assert all(not p.requires_grad for p in model.visual.parameters())  # left frozen afterwards


def test_unknown_level_and_non_resnet_encoders_fail_by_name(rn, tiny_models):
    with pytest.raises(SynrecError, match="unknown level 'layer5'"):
        tuned_parameters(rn[0].visual, "layer5")
    vit = load_clip({"model": f"local-dir:{tiny_models['clip_vit']}"})[0]
    with pytest.raises(SynrecError, match="has no 'attnpool'"):
        tuned_parameters(vit.visual, "layer4")
