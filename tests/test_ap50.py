"""AP50's interval recomputes COCO's AP50 from per-image matches: it must be torchmetrics' own number, on the test
set and on any resample of it."""

import numpy as np
import pytest
import torch

from synrec.ap50 import ap50, ap50_interval, match


def _scene(rng, n_images=12, n_classes=3):
    """Random ground truth (some boxes difficult) and detections: near-copies of boxes (hits, misses by jitter),
    duplicates, false alarms, a class with detections and no box."""
    preds, targets = [], []
    for _ in range(n_images):
        k = rng.integers(0, 4)
        xy = rng.uniform(0, 60, (k, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(8, 30, (k, 2))], 1)
        labels = rng.integers(1, n_classes + 1, k)
        crowd = (rng.random(k) < 0.2).astype(int)
        pb, ps, pl = [], [], []
        for b, lab in zip(boxes, labels):
            for _ in range(rng.integers(0, 3)):  # 0-2 detections near each box, jittered: some IoU < 0.5
                pb.append(b + rng.normal(0, rng.choice([1.0, 8.0]), 4))
                ps.append(rng.random())
                pl.append(lab if rng.random() < 0.85 else rng.integers(1, n_classes + 2))
        for _ in range(rng.integers(0, 3)):  # false alarms
            xy = rng.uniform(0, 60, 2)
            pb.append(np.concatenate([xy, xy + rng.uniform(5, 20, 2)]))
            ps.append(rng.random())
            pl.append(rng.integers(1, n_classes + 2))
        pb = np.asarray(pb, dtype=np.float32).reshape(-1, 4)
        pb[:, 2:] = np.maximum(pb[:, 2:], pb[:, :2] + 1)
        preds.append({"boxes": torch.tensor(pb), "scores": torch.tensor(ps, dtype=torch.float32),
                      "labels": torch.tensor(pl, dtype=torch.int64)})
        targets.append({"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                        "labels": torch.tensor(labels, dtype=torch.int64),
                        "iscrowd": torch.tensor(crowd, dtype=torch.int64)})
    return preds, targets


def _torchmetrics_ap50(preds, targets):
    from torchmetrics.detection import MeanAveragePrecision

    metric = MeanAveragePrecision(iou_type="bbox", iou_thresholds=[0.5], backend="pycocotools")
    metric.update(preds, targets)
    return 100 * float(metric.compute()["map_50"])


@pytest.mark.parametrize("seed", range(6))
def test_ap50_from_matches_is_torchmetrics_ap50_on_the_set_and_on_a_resample(seed):
    rng = np.random.default_rng(seed)
    preds, targets = _scene(rng)
    matched = match(preds, targets)
    assert ap50(matched) == pytest.approx(_torchmetrics_ap50(preds, targets), abs=1e-4)  # (torchmetrics: float32)
    draw = rng.integers(0, len(preds), len(preds))  # a bootstrap resample: images repeated, others left out
    counts = np.bincount(draw, minlength=len(preds))
    copy = lambda d: {k: v.clone() for k, v in d.items()}  # noqa: E731  (each image its own tensors)
    expected = _torchmetrics_ap50([copy(preds[i]) for i in draw], [copy(targets[i]) for i in draw])
    assert ap50(matched, counts) == pytest.approx(expected, abs=1e-4)  # (torchmetrics returns float32)


def test_the_interval_brackets_the_ap_and_narrows_with_more_images():
    rng = np.random.default_rng(0)
    small = match(*_scene(rng, n_images=10))
    large = match(*_scene(rng, n_images=160))
    lo_s, hi_s = ap50_interval(small, b=300)
    lo_l, hi_l = ap50_interval(large, b=300)
    assert lo_s <= ap50(small) <= hi_s and lo_l <= ap50(large) <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 2
