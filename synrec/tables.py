"""The paper's zero-shot tables built from the per-run result JSONs, as CSV (plus a Markdown copy to read).

* Table 1: per dataset and backbone, zero-shot CLIP and CLIP+SYN (``table1.variant``, default LE+CF-SCE) with the
  gain, and an Average row.
* Table 2: per dataset, CLIP and each of B / LE / LE+CF trained with CE / SCE, with gains over CLIP.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .atomic import write_text

TABLE2_VARIANTS = ["B-CE", "B-SCE", "LE-CE", "LE-SCE", "LE+CF-CE", "LE+CF-SCE"]


def read_acc(path: str | Path) -> float:
    return float(json.loads(Path(path).read_text())["metrics"]["acc1"])


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _delta(x: float) -> str:
    return f"{x:+.2f}"


def table1_rows(acc: dict, datasets: list[dict], backbones: list[str], variant: str) -> tuple[list[str], list[list]]:
    """``acc[(dataset, backbone, variant_or_'CLIP')]`` -> header and rows, Average last."""
    header = ["Dataset", "Task"]
    for bb in backbones:
        header += [f"CLIP-{bb}", f"CLIP-{bb}+SYN", f"delta {bb}"]
    rows, sums = [], {bb: [0.0, 0.0] for bb in backbones}
    for ds in datasets:
        row = [ds["title"], ds["task"]]
        for bb in backbones:
            base, syn = acc[(ds["name"], bb, "CLIP")], acc[(ds["name"], bb, variant)]
            row += [_fmt(base), _fmt(syn), _delta(syn - base)]
            sums[bb][0] += base
            sums[bb][1] += syn
        rows.append(row)
    avg = ["Average", "/"]
    for bb in backbones:
        b, s = (v / len(datasets) for v in sums[bb])
        avg += [_fmt(b), _fmt(s), _delta(s - b)]
    rows.append(avg)
    return header, rows


def table2_rows(acc: dict, datasets: list[dict], backbone: str) -> tuple[list[str], list[list]]:
    header = ["Dataset", "CLIP"]
    for v in TABLE2_VARIANTS:
        header += [v, f"delta {v}"]
    rows = []
    for ds in datasets:
        base = acc[(ds["name"], backbone, "CLIP")]
        row = [ds["title"], _fmt(base)]
        for v in TABLE2_VARIANTS:
            row += [_fmt(acc[(ds["name"], backbone, v)]), _delta(acc[(ds["name"], backbone, v)] - base)]
        rows.append(row)
    return header, rows


def table3_rows(zeroshot: dict, runs: list[dict]) -> tuple[list[str], list[list]]:
    """Table 3: a column per share of parameters tuned (zero-shot = 0), in increasing order; rows: the stage the
    encoder was unfrozen down to, and the accuracy."""
    runs = sorted(runs, key=lambda r: r["share_tuned"])
    header = ["Param Tuned (%)", "0"] + [f"{r['share_tuned']:.2f}" for r in runs]
    rows = [["Tuned down to", "(zero-shot)"] + [r["level"] for r in runs],
            ["Acc", _fmt(zeroshot["metrics"]["acc1"])] + [_fmt(r["metrics"]["acc1"]) for r in runs]]
    return header, rows


def table4_rows(syn: dict, real: list[dict]) -> tuple[list[str], list[list]]:
    """Table 4: a column per real-images-per-class count, then the synthetic run."""
    real = sorted(real, key=lambda r: r["per_class"])
    header = ["Real shot"] + [str(r["per_class"]) for r in real] + [f"Syn ({syn['per_class']}/class)"]
    return header, [["Acc"] + [_fmt(r["metrics"]["acc1"]) for r in real] + [_fmt(syn["metrics"]["acc1"])]]


def pretraining_rows(table: dict, cells: list, results: list[dict]) -> tuple[list[str], list[list]]:
    """Tables 8–11: a row per (pre-training data, IN-1k init?) in the configured order, a column per image amount;
    "-" where the paper (and the config) has no cell. ``cells[i]`` = (space, amount, init) of ``results[i]``."""
    metric = "acc1" if table["transfer"] == "cifar" else "ap50"
    value = {cell: float(r["metrics"][metric]) for cell, r in zip(map(tuple, cells), results)}
    header = ["Data", "pre-trained on IN-1k?"] + list(table["columns"])
    rows = []
    for row in table["rows"]:
        init = "in1k" if row["in1k"] else "random"
        out = ["(None)" if row["data"] == "none" else f"{row['data']} Syn", "yes" if row["in1k"] else ""]
        for col in table["columns"]:
            amount = "0" if row["data"] == "none" else col
            out.append(_fmt(value[(row["data"], amount, init)]) if col in row["columns"] else "-")
        rows.append(out)
    return header, rows


def to_csv(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def to_markdown(header: list[str], rows: list[list], note: str = "") -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return (note + "\n\n" if note else "") + "\n".join(lines) + "\n"


def write_table(csv_path: str | Path, header: list[str], rows: list[list], title: str = "", note: str = "") -> None:
    """Write ``table.csv`` and, beside it, ``table.md`` headed by ``note`` (if any) and ``title``."""
    write_text(csv_path, to_csv(header, rows))
    heading = "\n\n".join(t for t in (note, title) if t)
    write_text(Path(csv_path).with_suffix(".md"), to_markdown(header, rows, heading))


# ---- few-shot (Sec. 3.2): mean and std over the split seeds ----

def few_shot_summary(paths) -> dict:
    """``{(dataset, method, shots): (mean, std, n_seeds)}`` from few-shot result JSONs."""
    import numpy as np

    runs: dict = {}
    for p in paths:
        r = json.loads(Path(p).read_text())
        runs.setdefault((r["dataset"], r["variant"], int(r["shots"])), []).append(float(r["metrics"]["acc1"]))
    return {k: (float(np.mean(v)), float(np.std(v)), len(v)) for k, v in runs.items()}


def _pm(cell) -> str:
    mean, std, n = cell
    return f"{mean:.2f} ± {std:.2f}" if n > 1 else f"{mean:.2f}"


def table5_rows(summary: dict, dataset: dict, shots: int):
    """Table 5: B vs RF vs RG (mix training) at one shot count."""
    header = ["Dataset", "Shots", "B", "RF", "RG"]
    return header, [[dataset["title"], shots] + [_pm(summary[(dataset["name"], m, shots)])
                                                  for m in ("mix-B", "mix-RF", "mix-RG")]]


def table6_rows(summary: dict, dataset: dict, shots: int):
    """Table 6: image-level CT on real shots or synthetic images, BN in train mode or frozen."""
    header = ["Train data", "Freeze BN?", "Test Acc"]
    rows = []
    for data, label in (("real", "Real"), ("syn", "Syn")):
        for bn, mark in (("bn-train", ""), ("bn-frozen", "yes")):
            rows.append([label, mark, _pm(summary[(dataset["name"], f"{data}-{bn}", shots)])])
    return header, rows


def table7_rows(summary: dict, dataset: dict, shots: list[int]):
    """Table 7: phase-wise (syn->real, real->syn) vs mix training, on RG data, per shot count."""
    header = ["M-shot", "Phase-wise syn->real", "Phase-wise real->syn", "Mix training"]
    return header, [[k] + [_pm(summary[(dataset["name"], m, k)]) for m in ("syn2real-RG", "real2syn-RG", "mix-RG")]
                    for k in shots]


FIGURE1_METHODS = {"ct-init": "CT w. init", "tip": "Tip-Adapter", "tip-f": "Tip-Adapter-F", "coop": "CoOp",
                   "mix-RG": "CT w. Syn"}


def figure1_rows(summary: dict, zeroshot: dict, datasets: list[dict]):
    """The CSV behind Figure 1: one row per (dataset, method, shots), zero-shot CLIP as shots = 0."""
    header = ["dataset", "method", "shots", "acc1_mean", "acc1_std", "n_seeds"]
    rows = []
    for d in datasets:
        rows.append([d["name"], "Zero-shot CLIP", 0, f"{zeroshot[d['name']]:.2f}", "0.00", 1])
        for m, label in FIGURE1_METHODS.items():
            for (ds, meth, k), (mean, std, n) in sorted(summary.items(), key=lambda kv: kv[0][2]):
                if ds == d["name"] and meth == m:
                    rows.append([ds, label, k, f"{mean:.2f}", f"{std:.2f}", n])
    return header, rows
