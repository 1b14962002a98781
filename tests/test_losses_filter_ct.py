import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synrec.classifier_tuning import ClassifierHead, cosine_lambda, evaluate, train_ct
from synrec.clip_filter import clip_confidence, clip_filter
from synrec.sce import sce_loss, soft_target_cross_entropy, soft_targets

REPO = Path(__file__).resolve().parent.parent
AB = ["a", "b"]
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
    keep = clip_filter(conf, labels, AB, threshold=0.5, budget=2, seed=0)
    assert set(keep[keep >= 4]) == {5, 7}
    kept0 = set(keep[keep < 4])
    assert len(kept0) == 2 and kept0 <= {0, 1, 3}
    seen = {tuple(clip_filter(conf, labels, AB, 0.5, 2, seed=s)[:2]) for s in range(20)}
    assert len(seen) > 1  # really random among those above the threshold
    assert clip_filter(conf, labels, AB, 0.5, 2, seed=3).tolist() == clip_filter(conf, labels, AB, 0.5, 2, 3).tolist()
    # default threshold 1/C = 0.5, no budget: exactly the images above it
    assert clip_filter(conf, labels, AB, budget=None).tolist() == [0, 1, 3, 7]
    # budget larger than a class: all of it, never more
    assert clip_filter(conf, labels, AB, 0.95, budget=10).tolist() == list(range(8))


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
    assert m["acc1"] == 75.0 and m["mean_per_class_recall"] == 50.0 and m["recall_per_class"] == [100.0, 0.0]
    # a class without test images has no recall (None), and the mean is over the classes present
    m = evaluate(Fixed(), np.array([[1, 0, 0], [0, 0, 1]], dtype=np.float32), np.array([0, 1]))
    assert m["recall_per_class"] == [100.0, 0.0, None] and m["mean_per_class_recall"] == 50.0


@pytest.mark.parametrize("loss", ["CE", "SCE"])
def test_ct_on_relabelled_classes_trains_the_same_head_with_its_rows_permuted(loss):
    """A store is in label order, so swapping two classes' labels (data, names and text embeddings alike) moves its
    rows; put in class-name order first (as the CT scripts do), the same samples meet the same shuffles and the head
    comes out the same, its rows permuted."""
    from synrec.seeds import name_order

    rng = np.random.default_rng(0)
    names = ["cat", "dog", "owl", "ant"]
    emb = F.normalize(torch.randn(4, 16, generator=torch.Generator().manual_seed(1)))
    per = [rng.normal(size=(10, 16)) + 3 * emb[c].numpy() for c in range(4)]
    perm = [2, 1, 0, 3]  # 'cat' and 'owl' trade labels
    runs = []
    for order in ([0, 1, 2, 3], perm):
        # label l holds class order[l]; the store lists label 0's rows first
        x = np.concatenate([per[c] for c in order]).astype(np.float32)
        y = np.repeat(np.arange(4), 10)
        o = name_order(y, [names[c] for c in order])
        head, _ = train_ct(x[o], y[o], emb[order], {**CT, "epochs": 5}, loss, SCE, seed=3, progress=False)
        runs.append(head.linear.weight.detach()[np.argsort(order)])  # rows back in class order
    assert torch.allclose(runs[0], runs[1], atol=1e-5)
    assert not torch.allclose(runs[0], emb * 100, atol=1e-3)  # it trained
    # without the name order the same relabelling changes the head
    x = np.concatenate([per[c] for c in perm]).astype(np.float32)
    head, _ = train_ct(x, np.repeat(np.arange(4), 10), emb[perm], {**CT, "epochs": 5}, loss, SCE, seed=3,
                       progress=False)
    assert not torch.allclose(runs[0], head.linear.weight.detach()[np.argsort(perm)], atol=1e-5)


def test_name_order_sorts_labels_by_class_name_and_keeps_order_within_a_class():
    from synrec.seeds import name_order

    labels = np.array([0, 1, 0, 2, 1])
    assert name_order(labels, ["zebra", "ant", "moth"]).tolist() == [1, 4, 3, 0, 2]


def test_cf_cross_check_counts_what_the_judge_recognises_among_kept_and_dropped(tmp_path):
    import h5py

    sys.path.insert(0, str(REPO / "tools"))
    from cf_cross_check import cross_check

    from synrec.stores import write_features

    root = tmp_path / "ds"
    (root / "synthetic" / "LE").mkdir(parents=True)
    (root / "heads").mkdir()
    emb = torch.eye(2, 4)
    torch.save({"class_emb": emb, "logit_scale": 100.0, "classnames": ["a", "b"]}, root / "heads" / "J.pt")
    # class a: rows 0-2 look like a, row 3 like b; class b: rows 4-5 like b, 6-7 like a
    looks = [0, 0, 0, 1, 1, 1, 0, 0]
    write_features(root / "features" / "J" / "syn-LE.h5", emb[looks].numpy(), np.repeat([0, 1], 4), "k",
                   {"images": "fp"})
    with h5py.File(root / "synthetic" / "LE" / "cf.h5", "w") as f:
        f["keep"] = np.array([0, 1, 4, 6])
        f.attrs["images"] = "fp"
    res = cross_check(tmp_path, "ds", "LE", "J")
    assert res["a"] == (2, 2, 1, 2) and res["b"] == (1, 2, 1, 2) and res["all"] == (3, 4, 2, 4)
