"""AP50 with a 95 % interval over the test images (Tables 10-11).

The reported AP50 is torchmetrics' ``MeanAveragePrecision`` (pycocotools: COCO's 101-point interpolation at IoU 0.5,
up to 100 detections per image and class, difficult boxes as crowd regions). Its interval needs that statistic
recomputed on a thousand resampled test sets, which pycocotools would take minutes for on VOC07 test (4,952
images). So :func:`match` does COCO's greedy matching once, per image (a detection is a true positive, a false
positive, or ignored: matched to a difficult box), and :func:`ap50` recomputes the AP from those flags with each
image counted as often as a resample draws it: matching never looks across images, so this *is* COCO's AP50 of the
resampled set. ``tests/test_ap50.py`` checks :func:`ap50` against torchmetrics on random detections.
"""

from __future__ import annotations

import numpy as np
import torch

from .intervals import _interval

#: the 101 recall points, as torchmetrics passes them to COCOeval (float32 values: a recall of exactly 0.3 falls
#: below the point 0.30000001, which COCOeval's own float64 grid would not)
REC_THRS = np.asarray(torch.linspace(0.0, 1.0, 101).tolist())


def _xywh(boxes) -> np.ndarray:
    """(x1, y1, x2, y2) -> (x, y, w, h) in float32, as torchmetrics hands boxes to pycocotools."""
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], 1).astype(np.float64)


def _iou(det: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """pycocotools' box IoU of (x, y, w, h) boxes, ``[n_det, n_gt]``, in double precision; for a crowd box the
    union is the detection's area."""
    w = np.minimum(det[:, None, 0] + det[:, None, 2], gt[None, :, 0] + gt[None, :, 2]) - np.maximum(
        det[:, None, 0], gt[None, :, 0])
    h = np.minimum(det[:, None, 1] + det[:, None, 3], gt[None, :, 1] + gt[None, :, 3]) - np.maximum(
        det[:, None, 1], gt[None, :, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    area_d, area_g = det[:, 2] * det[:, 3], gt[:, 2] * gt[:, 3]
    union = np.where(crowd[None, :], area_d[:, None], area_d[:, None] + area_g[None, :] - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match(preds: list[dict], targets: list[dict], max_det: int = 100) -> dict:
    """COCO's matching at IoU 0.5 on each image: ``{"det": [[class, image, score, tp, ignored], ...],
    "gt": [[class, image, count of non-difficult boxes], ...], "n_images": n}`` (numpy arrays in lists, as JSON
    keeps them). ``preds``/``targets``: torchmetrics' per-image dicts (boxes, scores, labels / boxes, labels,
    iscrowd), as numpy or torch."""
    dets, gts = [], []
    for img, (p, t) in enumerate(zip(preds, targets)):
        pb, tb = _xywh(p["boxes"]), _xywh(t["boxes"])
        ps, pl, tl = np.asarray(p["scores"], dtype=np.float64), np.asarray(p["labels"]), np.asarray(t["labels"])
        tc = np.asarray(t.get("iscrowd", np.zeros(len(tl))), dtype=bool)
        for c in np.union1d(np.unique(pl), np.unique(tl)):
            g = tl == c
            gb, gcrowd = tb[g], tc[g]
            order = np.argsort(gcrowd, kind="stable")  # non-crowd boxes first, as COCOeval sorts them
            gb, gcrowd = gb[order], gcrowd[order]
            if (~gcrowd).sum():
                gts.append([int(c), img, int((~gcrowd).sum())])
            d = np.flatnonzero(pl == c)
            d = d[np.argsort(-ps[d], kind="mergesort")][:max_det]
            ious = _iou(pb[d], gb, gcrowd) if len(gb) else np.zeros((len(d), 0))
            taken = np.zeros(len(gb), dtype=bool)
            for k, di in enumerate(d):
                best, m = 0.5 - 1e-10, -1
                for j in range(len(gb)):
                    if taken[j] and not gcrowd[j]:
                        continue
                    if m > -1 and not gcrowd[m] and gcrowd[j]:
                        break  # a real box matched: crowd boxes after it are not considered
                    if ious[k, j] < best:
                        continue
                    best, m = ious[k, j], j
                if m > -1:
                    taken[m] = True
                dets.append([int(c), img, float(ps[di]), int(m > -1 and not gcrowd[m]), int(m > -1 and gcrowd[m])])
    return {"det": dets, "gt": gts, "n_images": len(preds)}


def _per_class(matched: dict) -> list[tuple]:
    """Per class with a box: ``(image of each non-ignored detection by falling score, its tp flag, images of the
    class's boxes, their counts)``: what does not change between resamples, sorted once."""
    det = np.asarray(matched["det"], dtype=np.float64).reshape(-1, 5)
    gt = np.asarray(matched["gt"], dtype=np.float64).reshape(-1, 3)
    out = []
    for c in np.unique(gt[:, 0]):
        g = gt[gt[:, 0] == c]
        d = det[(det[:, 0] == c) & (det[:, 4] == 0)]
        d = d[np.argsort(-d[:, 2], kind="mergesort")]  # COCOeval's order: stable, images in order on ties
        out.append((d[:, 1].astype(int), d[:, 3], g[:, 1].astype(int), g[:, 2]))
    return out


def _ap50(classes: list[tuple], w: np.ndarray) -> float:
    aps = []
    for det_img, tp_flag, gt_img, gt_count in classes:
        npos = float((w[gt_img] * gt_count).sum())
        if npos == 0:
            continue  # (a resample without this class's images)
        if not len(det_img):
            aps.append(0.0)  # boxes and no detection of them
            continue
        dw = w[det_img]
        tp = np.cumsum(dw * tp_flag)
        fp = np.cumsum(dw * (1 - tp_flag))
        recall = tp / npos
        precision = tp / (tp + fp + np.spacing(1))  # as COCOeval
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, REC_THRS, side="left")
        q = np.where(idx < len(precision), precision[np.minimum(idx, len(precision) - 1)], 0.0)
        aps.append(q.mean())
    return 100.0 * float(np.mean(aps)) if aps else 0.0


def ap50(matched: dict, weights: np.ndarray | None = None) -> float:
    """COCO AP50 (%) over the classes with a ground-truth box, each image counted ``weights[image]`` times (a
    bootstrap resample; None: once)."""
    w = np.ones(matched["n_images"]) if weights is None else np.asarray(weights, dtype=np.float64)
    return _ap50(_per_class(matched), w)


def ap50_interval(matched: dict, b: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % bootstrap interval of AP50 over the test images (resampled with replacement; 2,000 resamples: an AP
    on VOC07 test is about 10 ms)."""
    rng = np.random.default_rng(seed)
    n, classes = matched["n_images"], _per_class(matched)
    samples = np.array([_ap50(classes, np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64))
                        for _ in range(b)])
    return _interval(samples)
