"""Figures next to the tables, for people who would rather look than read numbers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .atomic import atomic_path  # noqa: E402


def _finish(fig, title: str, note: str, out: str | Path) -> None:
    """Title (with the results note wrapped under it), layout, and an atomic PNG write."""
    fig.suptitle(title + (f"\n{textwrap.fill(note, 90)}" if note else ""), fontsize=10)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def plot_table1(acc: dict, datasets: list[dict], backbones: list[str], variant: str, out: str | Path,
                note: str = "") -> None:
    """One panel per backbone: zero-shot CLIP and CLIP+SYN top-1 per dataset, the gain written beside each bar."""
    n = len(datasets)
    fig, axes = plt.subplots(1, len(backbones), figsize=(5.5 * len(backbones), 0.45 * n + 1.6), squeeze=False,
                             sharey=True)
    ys = list(range(n))[::-1]
    for ax, bb in zip(axes[0], backbones):
        base = [acc[(d["name"], bb, "CLIP")] for d in datasets]
        syn = [acc[(d["name"], bb, variant)] for d in datasets]
        ax.barh([y + 0.2 for y in ys], base, height=0.4, color="#9bb7d4", label="CLIP (zero-shot)")
        ax.barh([y - 0.2 for y in ys], syn, height=0.4, color="#1f4e79", label=f"CLIP + SYN ({variant})")
        for y, b, s in zip(ys, base, syn):
            ax.text(max(b, s) + 1, y, f"{s - b:+.2f}", va="center", fontsize=8,
                    color="#1a7f37" if s >= b else "#b42318")
        ax.set_title(f"CLIP-{bb}")
        ax.set_xlim(0, 110)
        ax.set_xlabel("top-1 (%)")
        ax.set_yticks(ys, [d["title"] for d in datasets])
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].legend(loc="lower right", fontsize=8)
    _finish(fig, "Table 1: zero-shot classification with synthetic data", note, out)


def plot_figure1(summary: dict, zeroshot: dict, datasets: list[dict], out: str | Path, note: str = "") -> None:
    """Figure 1: a panel per dataset, top-1 against real shots per method (mean +- std over seeds), zero-shot CLIP
    as a dashed line."""
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
                ax.errorbar(ks, [v[0] for _, v in pts], yerr=[v[1] for _, v in pts], marker="o", capsize=3,
                            label=label, linewidth=2.2 if m == "mix-RG" else 1.2)
        ax.axhline(zeroshot[d["name"]], color="gray", linestyle="--", label="Zero-shot CLIP")
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_shots, [str(k) for k in all_shots])
        ax.minorticks_off()
        ax.set_title(d["title"])
        ax.set_xlabel("real shots per class")
        ax.set_ylabel("top-1 (%)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes[0][0].legend(fontsize=7)
    _finish(fig, "Figure 1: few-shot classification", note, out)
