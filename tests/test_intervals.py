"""The 95 % intervals (synrec.intervals) against independent answers: a brute-force bootstrap that resamples image
indices, and the normal approximation's width."""

import numpy as np
import pytest

from synrec.intervals import (
    accuracy_interval,
    average_interval,
    correct_of,
    delta_interval,
    fmt,
    pack,
    unpack,
)


def bits(n, p, seed):
    return np.random.default_rng(seed).random(n) < p


def brute(scores, b=4000, seed=1):
    """The textbook bootstrap: resample indices, take the mean; percentile interval (percent)."""
    rng = np.random.default_rng(seed)
    scores = np.asarray(scores, dtype=float)
    means = scores[rng.integers(0, len(scores), size=(b, len(scores)))].mean(1)
    return tuple(100 * np.quantile(means, [0.025, 0.975]))


def test_bits_pack_and_unpack_in_test_order():
    c = bits(1001, 0.3, 0)
    assert np.array_equal(unpack(pack(c), 1001), c)
    assert correct_of({"metrics": {"n": 1001, "correct": pack(c)}}).sum() == c.sum()
    assert correct_of({"metrics": {"acc1": 30.0}}) is None


def test_one_runs_interval_is_the_bootstrap_over_images_and_the_binomial_width():
    c = bits(400, 0.5, 1)
    lo, hi = accuracy_interval(c)
    blo, bhi = brute(c)
    assert abs(lo - blo) < 0.6 and abs(hi - bhi) < 0.6
    half = 1.96 * np.sqrt(c.mean() * (1 - c.mean()) / len(c)) * 100
    assert abs((hi - lo) / 2 - half) < 0.4 and lo < 100 * c.mean() < hi
    assert accuracy_interval(c) == (lo, hi)  # a fixed seed: the same files give the same interval
    assert accuracy_interval(np.ones(50, bool)) == (100.0, 100.0)


def test_a_paired_delta_is_much_narrower_than_two_separate_intervals_and_matches_the_brute_force():
    base = bits(500, 0.6, 2)
    flip = bits(500, 0.06, 3)  # the method differs from the baseline on about 6 % of the images
    method = base ^ flip
    lo, hi = delta_interval(method, base)
    blo, bhi = brute(method.astype(float) - base.astype(float))
    assert abs(lo - blo) < 0.5 and abs(hi - bhi) < 0.5
    a, b = accuracy_interval(method), accuracy_interval(base)
    unpaired = np.hypot(a[1] - a[0], b[1] - b[0])  # the width of the difference of two independent estimates
    assert hi - lo < 0.5 * unpaired
    assert delta_interval(base, base) == (0.0, 0.0)
    with pytest.raises(ValueError, match="same test images"):
        delta_interval(base, base[:-1])


def test_seeds_widen_the_interval_when_the_runs_disagree():
    one = bits(300, 0.5, 4)
    same = np.stack([one, one, one])
    assert accuracy_interval(same) == pytest.approx(accuracy_interval(one), abs=0.7)
    spread = np.stack([bits(300, p, 5 + i) for i, p in enumerate((0.3, 0.5, 0.7))])  # seeds far apart
    lo, hi = accuracy_interval(spread)
    single = accuracy_interval(spread[1])
    assert hi - lo > 2 * (single[1] - single[0]) and lo < 100 * spread.mean() < hi
    # over seeds on both sides: the paired interval of two methods that are equal up to seed noise includes 0
    lo, hi = delta_interval(spread, spread[::-1])
    assert lo < 0 < hi


def test_the_average_rows_interval_combines_independent_datasets():
    a, b = bits(400, 0.4, 8), bits(900, 0.8, 9)
    lo, hi = average_interval([a, b])
    sd = np.sqrt(a.mean() * (1 - a.mean()) / 400 + b.mean() * (1 - b.mean()) / 900) / 2 * 100
    assert abs((hi - lo) / 2 - 1.96 * sd) < 0.3 and lo < 50 * (a.mean() + b.mean()) < hi
    lo, hi = average_interval([a, b], baselines=[a, b])
    assert (lo, hi) == (0.0, 0.0)


def test_cells_show_the_value_and_its_interval():
    assert fmt(48.4375, (39.84, 57.03)) == "48.44 [39.84, 57.03]"
    assert fmt(2.34, (-1.56, 6.25), signed=True) == "+2.34 [-1.56, +6.25]"
    assert fmt(48.4375, None) == "48.44"
