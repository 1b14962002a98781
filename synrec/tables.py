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


def write_table(csv_path: str | Path, header: list[str], rows: list[list], note: str = "") -> None:
    """Write ``table.csv`` and, beside it, ``table.md``."""
    write_text(csv_path, to_csv(header, rows))
    write_text(Path(csv_path).with_suffix(".md"), to_markdown(header, rows, note))
