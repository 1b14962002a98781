"""Figures next to the tables, for people who would rather look than read numbers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .atomic import atomic_path  # noqa: E402


def _finish(fig, title: str, note: str, out: str | Path, rect=None) -> None:
    """Title (with the results note wrapped under it), layout (within ``rect`` of the figure, if given), and an
    atomic PNG write."""
    fig.suptitle(title + (f"\n{textwrap.fill(note, 90)}" if note else ""), fontsize=10)
    fig.tight_layout(**({"rect": rect} if rect else {}))
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def _whiskers(records: list[dict]):
    """xerr/yerr for matplotlib from the records' 95 % intervals (zero length where a record has none)."""
    lo, hi = [], []
    for r in records:
        acc, ci = float(r["metrics"]["acc1"]), r["metrics"].get("acc1_ci95") or (None, None)
        lo.append(acc - ci[0] if ci[0] is not None else 0.0)
        hi.append(ci[1] - acc if ci[1] is not None else 0.0)
    return [lo, hi]


def plot_table1(results: dict, datasets: list[dict], backbones: list[str], variant: str, out: str | Path,
                note: str = "") -> None:
    """One panel per backbone: zero-shot CLIP and CLIP+SYN top-1 per dataset with their 95 % intervals (whiskers),
    the gain written beside each bar."""
    n = len(datasets)
    fig, axes = plt.subplots(1, len(backbones), figsize=(5.5 * len(backbones), 0.45 * n + 1.6), squeeze=False,
                             sharey=True)
    ys = list(range(n))[::-1]
    for ax, bb in zip(axes[0], backbones):
        base_r = [results[(d["name"], bb, "CLIP")] for d in datasets]
        syn_r = [results[(d["name"], bb, variant)] for d in datasets]
        base, syn = ([float(r["metrics"]["acc1"]) for r in rs] for rs in (base_r, syn_r))
        ax.barh([y + 0.2 for y in ys], base, height=0.4, color="#9bb7d4", label="CLIP (zero-shot)",
                xerr=_whiskers(base_r), error_kw={"lw": 0.8, "capsize": 2})
        ax.barh([y - 0.2 for y in ys], syn, height=0.4, color="#1f4e79", label=f"CLIP + SYN ({variant})",
                xerr=_whiskers(syn_r), error_kw={"lw": 0.8, "capsize": 2})
        for y, b, s, r in zip(ys, base, syn, syn_r):
            top = max(b, s, *(r["metrics"].get("acc1_ci95") or [0]))
            ax.text(top + 1, y, f"{s - b:+.2f}", va="center", fontsize=8,
                    color="#1a7f37" if s >= b else "#b42318")
        ax.set_title(f"CLIP-{bb}")
        ax.set_xlim(0, 110)
        ax.set_xlabel("top-1 (%)")
        ax.set_yticks(ys, [d["title"] for d in datasets])
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].legend(loc="lower right", fontsize=8)
    _finish(fig, "Table 1: zero-shot classification with synthetic data", note, out)


def plot_figure1(summary: dict, zeroshot: dict, datasets: list[dict], out: str | Path, note: str = "") -> None:
    """Figure 1: a panel per dataset, top-1 against real shots per method (the mean over seeds, its 95 % interval
    over seeds and test images as a band), zero-shot CLIP as a dashed line (its interval shaded grey)."""
    from .tables import FIGURE1_METHODS

    n = len(datasets)
    cols = min(4, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(7.0, 4 * cols), 3.2 * rows + 0.6), squeeze=False)
    all_shots = sorted({k for (_, _, k) in summary})
    for ax, d in zip(axes.flat, datasets):
        for m, label in FIGURE1_METHODS.items():
            pts = sorted((k, v) for (ds, meth, k), v in summary.items() if ds == d["name"] and meth == m)
            if pts:
                ks = [k for k, _ in pts]
                line = ax.plot(ks, [v[0] for _, v in pts], marker="o", label=label,
                               linewidth=2.2 if m == "mix-RG" else 1.2)[0]
                cis = [(*v, None)[3] for _, v in pts]
                if all(ci is not None for ci in cis):
                    ax.fill_between(ks, [c[0] for c in cis], [c[1] for c in cis], color=line.get_color(), alpha=0.15,
                                    linewidth=0)
        z = zeroshot[d["name"]]
        ax.axhline(float(z["metrics"]["acc1"]), color="gray", linestyle="--", label="Zero-shot CLIP")
        if z["metrics"].get("acc1_ci95"):
            ax.axhspan(*z["metrics"]["acc1_ci95"], color="gray", alpha=0.1, linewidth=0)
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_shots, [str(k) for k in all_shots])
        ax.minorticks_off()
        ax.set_title(d["title"])
        ax.set_xlabel("real shots per class")
        ax.set_ylabel("top-1 (%)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()  # one legend for all panels, below them
    fig.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), fontsize=7, frameon=False)
    _finish(fig, "Figure 1: few-shot classification", note, out, rect=(0, 0.04 + 0.03 * -(-len(labels) // 5), 1, 1))


def plot_generators(results: dict, datasets: list[dict], generators: list[tuple[str | None, str]], variant: str,
                    out: str | Path, note: str = "") -> None:
    """results/generators.png: per dataset, zero-shot CLIP and CLIP+SYN of each generator (top-1 with 95 %
    intervals); ``results[(dataset, run)]`` as for :func:`synrec.tables.generators_rows`."""
    import numpy as np

    from .tables import generator_variant

    n, k = len(datasets), len(generators) + 1
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * n * k / 2 + 2), 3.6))
    width = 0.8 / k
    names = [("CLIP", "zero-shot CLIP")] + [(generator_variant(variant, g), f"+SYN {t}") for g, t in generators]
    for j, (run, label) in enumerate(names):
        records = [results[(d["name"], run)] for d in datasets]
        x = np.arange(n) + (j - (k - 1) / 2) * width
        ax.bar(x, [float(r["metrics"]["acc1"]) for r in records], width, yerr=_whiskers(records), capsize=3,
               label=label)
    ax.set_xticks(np.arange(n), [d["title"] for d in datasets])
    ax.set_ylabel("top-1 (%)")
    ax.legend(fontsize=8)
    _finish(fig, f"Generators compared: zero-shot CLIP and CLIP+SYN ({variant})", note, out)
