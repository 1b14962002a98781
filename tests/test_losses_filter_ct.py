import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synrec.classifier_tuning import ClassifierHead, cosine_lambda, evaluate, train_ct
from synrec.clip_filter import clip_confidence, clip_filter
from synrec.sce import sce_loss, soft_target_cross_entropy, soft_targets

CT = {"epochs": 30, "lr": 0.002, "weight_decay": 0.1, "batch_size": 8, "warmup_steps": 0, "grad_clip": 1.0}
SCE = {"weight": 0.5, "temperature": 2.0}


def test_sce_against_hand_computed_numbers():
    student = torch.tensor([[2.0, 0.0, 0.0]])
    teacher = torch.tensor([[4.0, 2.0, 0.0]])
    # softmax(teacher / 2) = softmax([2, 1, 0])
    e = [math.exp(2), math.exp(1), 1.0]
    t = [v / sum(e) for v in e]
    log_s = [2 - math.log(math.exp(2) + 2), -math.log(math.exp(2) + 2), -math.log(math.exp(2) + 2)]
    sce = -sum(a * b for a, b in zip(t, log_s))
    assert soft_targets(teacher, 2.0).tolist()[0] == pytest.approx(t)
    assert float(soft_target_cross_entropy(student, soft_targets(teacher, 2.0))) == pytest.approx(sce)
    ce = -log_s[1]  # hard label 1
    got = float(sce_loss(student, teacher, torch.tensor([1]), weight=0.5, temperature=2.0))
    assert got == pytest.approx(0.5 * sce + 0.5 * ce)
    assert float(sce_loss(student, teacher, torch.tensor([1]), weight=0.0)) == pytest.approx(ce)


def test_sce_targets_carry_no_gradient_to_the_teacher():
    teacher = torch.randn(4, 3, requires_grad=True)
    sce_loss(torch.randn(4, 3, requires_grad=True), teacher, torch.tensor([0, 1, 2, 0])).backward()
    assert teacher.grad is None


def test_clip_confidence_is_the_softmax_at_the_own_class():
    emb = torch.eye(3)
    feats = np.array([[2.0, 0, 0], [0, 1.0, 0], [0.6, 0.8, 0]])
    conf = clip_confidence(feats, np.array([0, 0, 1]), emb, scale=10.0)
    e = np.exp([10, 0, 0])
    assert conf[0] == pytest.approx(e[0] / e.sum())
    assert conf[1] == pytest.approx(1 / (np.exp(10) + 2))
    e = np.exp([6, 8, 0])
    assert conf[2] == pytest.approx(e[1] / e.sum())


def test_clip_filter_threshold_budget_and_fallback():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    conf = np.array([0.9, 0.8, 0.1, 0.7, 0.2, 0.45, 0.3, 0.6])
    # class 0: 3 above 0.5 >= budget 2 -> a random 2 of {0, 1, 3}; class 1: only idx 7 above -> top-2 {7, 5}
    keep = clip_filter(conf, labels, 2, threshold=0.5, budget=2, seed=0)
    assert set(keep[keep >= 4]) == {5, 7}
    kept0 = set(keep[keep < 4])
    assert len(kept0) == 2 and kept0 <= {0, 1, 3}
    seen = {tuple(clip_filter(conf, labels, 2, 0.5, 2, seed=s)[:2]) for s in range(20)}
    assert len(seen) > 1  # really random among those above the threshold
    assert clip_filter(conf, labels, 2, 0.5, 2, seed=3).tolist() == clip_filter(conf, labels, 2, 0.5, 2, 3).tolist()
    # default threshold 1/C = 0.5, no budget: exactly the images above it
    assert clip_filter(conf, labels, 2, budget=None).tolist() == [0, 1, 3, 7]
    # budget larger than a class: all of it, never more
    assert clip_filter(conf, labels, 2, 0.95, budget=10).tolist() == list(range(8))


def separable(n_per=20, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.eye(3, 8) * 3
    x = np.concatenate([c + rng.normal(0, 0.6, (n_per, 8)) for c in centers]).astype(np.float32)
    return x, np.repeat(np.arange(3), n_per)


def test_ct_with_zero_epochs_is_exactly_zero_shot():
    x, y = separable()
    emb = F.normalize(torch.randn(3, 8, generator=torch.Generator().manual_seed(1)), dim=-1)
    head, hist = train_ct(x, y, emb, {**CT, "epochs": 0}, progress=False)
    assert hist == []
    zs = evaluate(ClassifierHead(emb), x, y)
    assert evaluate(head, x, y) == zs
    torch.testing.assert_close(head.linear.weight, 100 * emb)
    assert torch.count_nonzero(head.linear.bias) == 0


@pytest.mark.parametrize("loss", ["CE", "SCE"])
def test_ct_learns_where_the_zero_shot_head_is_uninformative(loss):
    x, y = separable()
    g = torch.Generator().manual_seed(0)
    flat = F.normalize(torch.ones(3, 8) + 0.01 * torch.randn(3, 8, generator=g), dim=-1)  # classes ~identical
    assert evaluate(ClassifierHead(flat), x, y)["acc1"] < 60
    head, hist = train_ct(x, y, flat, {**CT, "epochs": 30, "lr": 0.01}, loss, SCE, progress=False)
    assert len(hist) == 30 and hist[-1]["loss"] < hist[0]["loss"]
    assert evaluate(head, x, y)["acc1"] > 90
    a, _ = train_ct(x, y, flat, {**CT, "epochs": 3}, loss, SCE, seed=5, progress=False)
    b, _ = train_ct(x, y, flat, {**CT, "epochs": 3}, loss, SCE, seed=5, progress=False)
    torch.testing.assert_close(a.linear.weight, b.linear.weight)  # deterministic


def test_cosine_schedule_with_warmup_never_swings_back_up():
    f = cosine_lambda(total_steps=10, warmup_steps=2)
    vals = [f(s) for s in range(14)]
    assert vals[:2] == [0.5, 1.0] and vals[2] == pytest.approx(1.0)
    assert vals[6] == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(vals[1:], vals[2:]))  # monotone after warm-up, also past the end
    assert vals[10] == vals[13] == pytest.approx(0.0)


def test_evaluate_top1_and_mean_per_class_recall():
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return x

    logits = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    m = evaluate(Fixed(), logits, np.array([0, 0, 1, 1]))
    assert m["acc1"] == 75.0 and m["mean_per_class_recall"] == 75.0 and m["n"] == 4
    m = evaluate(Fixed(), logits, np.array([0, 0, 0, 1]))
    assert m["acc1"] == 100.0
    # imbalanced: always predicting the majority class is 75 % accurate but recalls class 1 never
    m = evaluate(Fixed(), np.array([[1, 0]] * 4, dtype=np.float32), np.array([0, 0, 0, 1]))
    assert m["acc1"] == 75.0 and m["mean_per_class_recall"] == 50.0
