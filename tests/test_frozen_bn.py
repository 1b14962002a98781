"""Table 6's image-level CT: frozen BN keeps CLIP's statistics (and then equals the cached-feature path); BN in
train mode moves them and changes the test result."""

import numpy as np
import pytest
import torch
from conftest import SHAPES

from synrec.classifier_tuning import evaluate, train_ct
from synrec.datasets import Split
from synrec.demo_data import make_images
from synrec.errors import SynrecError
from synrec.features import encode_images, text_classifier
from synrec.frozen_bn import bn_layers, bn_running_means, require_bn
from synrec.image_ct import evaluate_images, train_image_ct
from synrec.models import load_clip

CFG = {"epochs": 3, "lr": 0.01, "weight_decay": 0.1, "batch_size": 4, "warmup_steps": 0, "grad_clip": 1.0}


def _split(per_class, seed, name):
    arr, labels = make_images(SHAPES, per_class, 32, seed)
    return Split(dataset="shapes", split=name, labels=labels, array=arr)


@pytest.fixture
def rn(tiny_models):
    return load_clip({"model": f"local-dir:{tiny_models['clip_rn']}"})


def test_frozen_bn_keeps_clip_statistics_and_equals_the_cached_feature_path(rn):
    model, preprocess, tok = rn
    train, test = _split(3, 0, "train"), _split(4, 1, "test")
    emb = text_classifier(model, tok, SHAPES, ["a photo of a {c}."], "cpu")
    before = bn_running_means(model.visual).clone()
    idx = np.arange(len(train))
    head, hist = train_image_ct(model, preprocess, train, idx, emb, CFG, freeze_bn=True, seed=3, progress=False)
    assert torch.equal(bn_running_means(model.visual), before)
    assert len(hist) == 3 and all(np.isfinite(h["loss"]) for h in hist)
    # the same run on features cached once in eval mode: same shuffles, same steps, same head
    feats = encode_images(model, preprocess, train, "cpu", progress=False)
    cached, _ = train_ct(feats, train.labels, emb, CFG, "CE", seed=3, progress=False)
    assert torch.allclose(head.linear.weight, cached.linear.weight, atol=1e-4)
    test_feats = encode_images(model, preprocess, test, "cpu", progress=False)
    assert evaluate_images(model, preprocess, test, head, progress=False) == evaluate(head, test_feats, test.labels)


def test_bn_in_train_mode_moves_the_statistics_and_the_test_result(rn):
    model, preprocess, tok = rn
    train, test = _split(3, 0, "train"), _split(4, 1, "test")
    emb = text_classifier(model, tok, SHAPES, ["a photo of a {c}."], "cpu")
    before = bn_running_means(model.visual).clone()
    frozen_feats = encode_images(model, preprocess, test, "cpu", progress=False)
    head, _ = train_image_ct(model, preprocess, train, np.arange(len(train)), emb, CFG, freeze_bn=False, seed=3,
                             progress=False)
    assert not torch.allclose(bn_running_means(model.visual), before)
    assert not model.visual.training and all(not m.training for m in bn_layers(model.visual))
    moved_feats = encode_images(model, preprocess, test, "cpu", progress=False)
    assert not np.allclose(moved_feats, frozen_feats, atol=1e-4)  # testing sees the drifted statistics
    # the test result is the head on the drifted features, and it differs from the head on CLIP's statistics
    with torch.no_grad():
        moved_logits = head(torch.as_tensor(moved_feats)).numpy()
        frozen_logits = head(torch.as_tensor(frozen_feats)).numpy()
    assert np.abs(moved_logits - frozen_logits).max() > 1e-3
    assert evaluate_images(model, preprocess, test, head, progress=False) == evaluate(head, moved_feats, test.labels)
    assert all(not p.requires_grad for p in model.visual.parameters())


def test_an_encoder_without_batchnorm_is_refused_by_name(tiny_models):
    model, _, _ = load_clip({"model": f"local-dir:{tiny_models['clip_vit']}"})
    with pytest.raises(SynrecError, match="no BatchNorm layers"):
        require_bn(model.visual)
