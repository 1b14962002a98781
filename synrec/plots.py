"""Figures next to the tables, for people who would rather look than read numbers."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .atomic import atomic_path  # noqa: E402


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
    fig.suptitle("Table 1: zero-shot classification with synthetic data" + (f"\n{note}" if note else ""), fontsize=10)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
