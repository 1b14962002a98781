"""Cost of real filtering (RF) and Tip-Adapter at paper scale: 1,000 classes x 16 shots x 800 synthetic images per
class, CLIP RN50's 1,024-d features (random here: the cost does not depend on the values). CPU, this machine.

For each step prints wall-clock seconds and the peak resident memory it added (tracemalloc does not see torch's
allocator, so we read the process's peak RSS before and after, via resource.getrusage).

    .venv/bin/python bench/fewshot_cost.py [--classes 1000] [--shots 16] [--syn 800] [--dim 1024]
"""

import numpy as np
import torch
from _bench import parser, peak_mb, seconds

from synrec.real_filter import real_filter
from synrec.tip_adapter import one_hot, search_alpha_beta, tip_logits


def timed(name, fn):
    """``(fn(), seconds)``, printed with the peak memory it added."""
    before, out = peak_mb(), []
    took = seconds(lambda: out.append(fn()))
    print(f"{name:38s} {took:8.1f} s   peak RSS +{peak_mb() - before:7.0f} MB")
    return out[0], took


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--shots", type=int, default=16)
    ap.add_argument("--syn", type=int, default=800)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--test", type=int, default=10000, help="test images scored by Tip-Adapter")
    a = ap.parse_args()
    torch.set_num_threads(2)
    g = np.random.default_rng(0)
    C, K, S, D = a.classes, a.shots, a.syn, a.dim
    print(f"{C} classes, {K} shots, {S} synthetic per class ({C * S:,} images), {D}-d features, 2 threads")
    base = peak_mb()
    syn = g.standard_normal((C * S, D), dtype=np.float32)
    syn_y = np.repeat(np.arange(C), S)
    real = g.standard_normal((C * K, D), dtype=np.float32)
    real_y = np.repeat(np.arange(C), K)
    test = g.standard_normal((a.test, D), dtype=np.float32)
    test_y = g.integers(0, C, a.test)
    emb = torch.nn.functional.normalize(torch.randn(C, D), dim=-1)
    print(f"{'inputs':38s} {'':8s}     RSS  {peak_mb() - base:7.0f} MB")
    keep, _ = timed("real filtering (block 2048)", lambda: real_filter(syn, syn_y, real, real_y, C))
    print(f"{'':38s} kept {len(keep):,} of {len(syn_y):,}")
    keys, vals = torch.as_tensor(real), one_hot(real_y, C)
    timed("Tip-Adapter logits, 10k test images", lambda: tip_logits(test, emb, keys, vals, 1.0, 5.5))
    val, val_y = test[: C * 4], test_y[: C * 4]
    alphas, betas = [0.5, 1, 2, 3, 5, 7, 10], [1, 2, 3, 5, 7, 10]
    fast, t_fast = timed("alpha/beta grid 7x6 on 4-shot val set", lambda: search_alpha_beta(
        val, val_y, emb, keys, vals, alphas, betas))

    def brute():  # what a straightforward search does: full Tip-Adapter logits for every pair
        acc = {(a, b): float((tip_logits(val, emb, keys, vals, a, b).argmax(-1) == torch.as_tensor(val_y)).float()
                             .mean()) for a in alphas for b in betas}
        top = max(acc.values())
        return next(ab for ab in acc if acc[ab] == top)

    slow, t_slow = timed("  same grid, tip_logits per pair", brute)
    assert fast == slow, (fast, slow)
    print(f"{'  grid search speed-up':38s} {t_slow / t_fast:8.1f}x (same alpha, beta)")


if __name__ == "__main__":
    main()
