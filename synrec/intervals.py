"""95 % intervals for every accuracy we publish: a bootstrap over the test images, over seeds too where a cell
averages several, and a *paired* bootstrap for a difference measured on the same test images.

Each result JSON keeps which test images its method got right (``metrics['correct']``: the bits packed, in test
order), so intervals are computed where the tables are built, from the result files alone:

* :func:`accuracy_interval` - one run: resample the test images with replacement;
* :func:`seeds_interval` - S runs (split seeds) on the same test images: resample the seeds, then the images;
* :func:`delta_interval` - a method minus its baseline on the same test images: each resample draws the same
  images for both, so what they share cancels (much narrower than two separate intervals);
* :func:`average_interval` - the Average row: datasets are independent, so each is resampled on its own and the
  resampled accuracies averaged.

Accuracy is a mean of per-image scores that take few distinct values (0/1 for one run; k/S over S seeds; -1/0/1 for
a paired difference), so a resample of N images is one multinomial draw of how many images fall on each value: exact
for the bootstrap, and as cheap for 50,000 test images as for 128. Percentile intervals, ``B`` resamples (default
10,000) from a fixed seed: the same files give the same interval on every machine.
"""

from __future__ import annotations

import base64

import numpy as np

B_DEFAULT = 10_000
LEVEL = 0.95


def pack(correct) -> str:
    """The per-image correct/wrong bits, packed and base64-encoded (a JSON string: 10,000 images take 1.7 kB)."""
    return base64.b64encode(np.packbits(np.asarray(correct, dtype=bool)).tobytes()).decode("ascii")


def unpack(packed: str, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(base64.b64decode(packed), dtype=np.uint8))[:n].astype(bool)


def correct_of(record: dict) -> np.ndarray | None:
    """The per-image bits of a result record, or None when it has none (a result made before they were kept)."""
    m = record.get("metrics", {})
    return unpack(m["correct"], int(m["n"])) if "correct" in m else None


def _resampled_means(scores: np.ndarray, b: int, rng: np.random.Generator) -> np.ndarray:
    """``b`` bootstrap means of ``scores`` (N per-image scores), by a multinomial draw over their distinct values."""
    values, counts = np.unique(np.asarray(scores, dtype=np.float64), return_counts=True)
    n = counts.sum()
    draws = rng.multinomial(n, counts / n, size=b)
    return draws @ values / n


def _interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _replicates(sides: list, b: int, rng: np.random.Generator) -> np.ndarray:
    """``b`` bootstrap replicates (percent) of the mean top-1 of ``sides[0]`` (S, N bits: S runs on the same N test
    images), minus that of ``sides[1]`` when given: each side's runs resampled apart, the images resampled once for
    both (paired). Resamples that picked the same runs share one per-image score vector, so they are drawn together."""
    sides = [np.atleast_2d(np.asarray(x, dtype=float)) for x in sides]
    if len({x.shape[1] for x in sides}) != 1:
        raise ValueError(f"a paired interval needs the same test images: {[x.shape[1] for x in sides]}")
    picks = np.concatenate([np.sort(rng.integers(0, len(x), size=(b, len(x))), axis=1) for x in sides], axis=1)
    groups, inverse = np.unique(picks, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    bounds = np.cumsum([len(x) for x in sides])[:-1]
    out = np.empty(b)
    for g, key in enumerate(groups):
        parts = np.split(key, bounds)
        scores = sides[0][parts[0]].mean(0) - (sides[1][parts[1]].mean(0) if len(sides) > 1 else 0.0)
        idx = np.flatnonzero(inverse == g)
        out[idx] = 100.0 * _resampled_means(scores, len(idx), rng)
    return out


def accuracy_interval(correct, b: int = B_DEFAULT, seed: int = 0) -> tuple[float, float]:
    """95 % interval of one run's top-1 (percent), resampling its test images; ``correct``: (N,) bits, or (S, N)
    for S runs (seeds) on the same images, whose mean is then the cell (seeds resampled, then images)."""
    return _interval(_replicates([correct], b, np.random.default_rng(seed)))


def seeds_interval(runs, b: int = B_DEFAULT, seed: int = 0) -> tuple[float, float]:
    """95 % interval of the mean top-1 over S runs on the same test images (``runs``: (S, N) bits)."""
    return accuracy_interval(runs, b, seed)


def delta_interval(correct, baseline, b: int = B_DEFAULT, seed: int = 0) -> tuple[float, float]:
    """95 % interval of ``acc(correct) - acc(baseline)`` (points), both on the same test images: the paired
    bootstrap. Each may be (N,) or (S, N) (the mean over seeds, seeds resampled apart for each side)."""
    return _interval(_replicates([correct, baseline], b, np.random.default_rng(seed)))


def average_interval(per_dataset: list, b: int = B_DEFAULT, seed: int = 0,
                     baselines: list | None = None) -> tuple[float, float]:
    """95 % interval of the average over datasets of one run's top-1 each (``per_dataset``: a bit vector per
    dataset); with ``baselines``, of the average paired difference. Datasets are resampled independently."""
    rng = np.random.default_rng(seed)
    total = np.zeros(b)
    for i, c in enumerate(per_dataset):
        scores = np.asarray(c, dtype=float) - (np.asarray(baselines[i], dtype=float) if baselines else 0.0)
        total += 100.0 * _resampled_means(scores, b, rng)
    return _interval(total / len(per_dataset))


def fmt(value: float, interval: tuple[float, float] | None, signed: bool = False) -> str:
    """A table cell: ``48.44 [39.84, 57.03]`` (``+2.34 [-1.56, 6.25]`` signed); the value alone without one."""
    v = f"{value:+.2f}" if signed else f"{value:.2f}"
    if interval is None:
        return v
    lo, hi = interval
    return f"{v} [{lo:+.2f}, {hi:+.2f}]" if signed else f"{v} [{lo:.2f}, {hi:.2f}]"
