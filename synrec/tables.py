"""The paper's tables built from the per-run result JSONs, as CSV (plus a Markdown copy to read).

* Table 1: per dataset and backbone, zero-shot CLIP and CLIP+SYN (``table1.variant``, default LE+CF-SCE) with the
  gain, and an Average row.
* Table 2: per dataset, CLIP and each of B / LE / LE+CF trained with CE / SCE, with gains over CLIP.
* Tables 3-11 and Figure 1's CSV: see each function.

Every accuracy cell carries its 95 % interval, ``48.44 [39.84, 57.03]`` (:mod:`synrec.intervals`): a bootstrap over
the test images for one run, over the split seeds and the images for a few-shot cell (shown with the mean's ± std
over the seeds), and a paired bootstrap on the same test images for a gain (``+2.34 [-1.56, +6.25]``). A result
file without per-image bits (made before they were kept), and a detection AP50, show the value alone.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from .atomic import write_text
from .intervals import accuracy_interval, average_interval, correct_of, delta_interval, fmt

TABLE2_VARIANTS = ["B-CE", "B-SCE", "LE-CE", "LE-SCE", "LE+CF-CE", "LE+CF-SCE"]


def _acc(record: dict) -> float:
    return float(record["metrics"]["acc1"])


def _cell(record: dict) -> str:
    """One run's top-1 with its interval over the test images."""
    ci = record["metrics"].get("acc1_ci95")
    if ci is None and correct_of(record) is not None:
        ci = accuracy_interval(correct_of(record))
    return fmt(_acc(record), None if ci is None else tuple(ci))


def _paired(a, b) -> bool:
    return a is not None and b is not None and len(a) == len(b)


def _gain(record: dict, baseline: dict) -> str:
    """``record`` minus ``baseline`` with the paired interval on their common test images."""
    a, b = correct_of(record), correct_of(baseline)
    return fmt(_acc(record) - _acc(baseline), delta_interval(a, b) if _paired(a, b) else None, signed=True)


def _average(records: list[dict], baselines: list[dict] | None = None) -> str:
    """The Average row's cell: the mean over datasets (of gains, with ``baselines``), datasets resampled apart."""
    value = sum(map(_acc, records)) / len(records) - (sum(map(_acc, baselines)) / len(baselines) if baselines else 0)
    bits = [correct_of(r) for r in records]
    base = [correct_of(r) for r in baselines] if baselines else None
    ok = all(c is not None for c in bits) and (base is None or all(map(_paired, bits, base)))
    return fmt(value, average_interval(bits, baselines=base) if ok else None, signed=baselines is not None)


def table1_rows(results: dict, datasets: list[dict], backbones: list[str],
                variant: str) -> tuple[list[str], list[list]]:
    """``results[(dataset, backbone, variant_or_'CLIP')]``: result records -> header and rows, Average last."""
    header = ["Dataset", "Task"]
    for bb in backbones:
        header += [f"CLIP-{bb}", f"CLIP-{bb}+SYN", f"delta {bb}"]
    rows = []
    for ds in datasets:
        row = [ds["title"], ds["task"]]
        for bb in backbones:
            base, syn = results[(ds["name"], bb, "CLIP")], results[(ds["name"], bb, variant)]
            row += [_cell(base), _cell(syn), _gain(syn, base)]
        rows.append(row)
    avg = ["Average", "/"]
    for bb in backbones:
        base = [results[(d["name"], bb, "CLIP")] for d in datasets]
        syn = [results[(d["name"], bb, variant)] for d in datasets]
        avg += [_average(base), _average(syn), _average(syn, base)]
    rows.append(avg)
    return header, rows


def generator_variant(variant: str, generator: str | None) -> str:
    """The run name of ``variant`` (``LE+CF-SCE``) on a named generator: ``LE@<generator>+CF-SCE``; None: the
    default generator's run, named as before."""
    if not generator:
        return variant
    strategy = re.match(r"[A-Za-z]+", variant).group(0)
    return f"{strategy}@{generator}{variant[len(strategy):]}"


def generators_rows(results: dict, datasets: list[dict], generators: list[tuple[str | None, str]], variant: str,
                    hours: dict) -> tuple[list[str], list[list]]:
    """results/generators.csv: per dataset, zero-shot CLIP, then for each ``(generator, title)`` (None: the default)
    CLIP+SYN with ``variant`` on its images, the paired gain, and ``hours[(generator, dataset)]`` (device-hours per
    1,000 generated images; dataset None: over all, in the Average row; '/' when unknown). ``results[(dataset,
    run)]``: result records. Average row last."""
    header = ["Dataset", "CLIP"]
    for _, title in generators:
        header += [f"+SYN {title}", f"delta {title}", f"h/1k img {title}"]
    rows = []
    for ds in datasets:
        base = results[(ds["name"], "CLIP")]
        row = [ds["title"], _cell(base)]
        for generator, _ in generators:
            syn = results[(ds["name"], generator_variant(variant, generator))]
            row += [_cell(syn), _gain(syn, base), hours.get((generator, ds["name"]), "/")]
        rows.append(row)
    base = [results[(d["name"], "CLIP")] for d in datasets]
    avg = ["Average", _average(base)]
    for generator, _ in generators:
        syn = [results[(d["name"], generator_variant(variant, generator))] for d in datasets]
        avg += [_average(syn), _average(syn, base), hours.get((generator, None), "/")]
    rows.append(avg)
    return header, rows


def table2_rows(results: dict, datasets: list[dict], backbone: str) -> tuple[list[str], list[list]]:
    header = ["Dataset", "CLIP"]
    for v in TABLE2_VARIANTS:
        header += [v, f"delta {v}"]
    rows = []
    for ds in datasets:
        base = results[(ds["name"], backbone, "CLIP")]
        row = [ds["title"], _cell(base)]
        for v in TABLE2_VARIANTS:
            row += [_cell(results[(ds["name"], backbone, v)]), _gain(results[(ds["name"], backbone, v)], base)]
        rows.append(row)
    return header, rows


def table3_rows(zeroshot: dict, runs: list[dict]) -> tuple[list[str], list[list]]:
    """Table 3: a column per share of parameters tuned (zero-shot = 0), in increasing order; rows: the stage the
    encoder was unfrozen down to, and the accuracy."""
    runs = sorted(runs, key=lambda r: r["share_tuned"])
    header = ["Param Tuned (%)", "0"] + [f"{r['share_tuned']:.2f}" for r in runs]
    rows = [["Tuned down to", "(zero-shot)"] + [r["level"] for r in runs],
            ["Acc", _cell(zeroshot)] + [_cell(r) for r in runs]]
    return header, rows


def table4_rows(syn: dict, real: list[dict]) -> tuple[list[str], list[list]]:
    """Table 4: a column per real-images-per-class count, then the synthetic run."""
    real = sorted(real, key=lambda r: r["per_class"])
    header = ["Real shot"] + [str(r["per_class"]) for r in real] + [f"Syn ({syn['per_class']}/class)"]
    return header, [["Acc"] + [_cell(r) for r in real] + [_cell(syn)]]


def pretraining_rows(table: dict, cells: list, results: list[dict]) -> tuple[list[str], list[list]]:
    """Tables 8–11: a row per (pre-training data, IN-1k init?) in the configured order, a column per image amount;
    "-" where the paper (and the config) has no cell. ``cells[i]`` = (space, amount, init) of ``results[i]``. CIFAR
    top-1 and VOC AP50 carry their intervals over the test images (AP50: :mod:`synrec.ap50`; a result made before
    it kept one shows the value alone)."""
    if table["transfer"] == "cifar":
        value = {cell: _cell(r) for cell, r in zip(map(tuple, cells), results)}
    else:
        value = {cell: fmt(float(r["metrics"]["ap50"]), tuple(r["metrics"]["ap50_ci95"])
                           if r["metrics"].get("ap50_ci95") else None) for cell, r in zip(map(tuple, cells), results)}
    header = ["Data", "pre-trained on IN-1k?"] + list(table["columns"])
    rows = []
    for row in table["rows"]:
        init = "in1k" if row["in1k"] else "random"
        out = ["(None)" if row["data"] == "none" else f"{row['data']} Syn", "yes" if row["in1k"] else ""]
        for col in table["columns"]:
            amount = "0" if row["data"] == "none" else col
            out.append(value[(row["data"], amount, init)] if col in row["columns"] else "-")
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


# ---- few-shot (Sec. 3.2): mean and std over the split seeds, and the interval over seeds and images ----

def few_shot_summary(paths) -> dict:
    """``{(dataset, method, shots): (mean, std, n_seeds, ci95)}`` from few-shot result JSONs; ``ci95``: the 95 %
    interval of the mean, the seeds resampled and then the test images (None without per-image bits)."""
    import numpy as np

    runs: dict = {}
    for p in paths:
        r = json.loads(Path(p).read_text())
        runs.setdefault((r["dataset"], r["variant"], int(r["shots"])), []).append(r)
    out = {}
    for k, recs in runs.items():
        acc = [_acc(r) for r in recs]
        bits = [correct_of(r) for r in recs]
        same = all(b is not None for b in bits) and len({len(b) for b in bits}) == 1
        out[k] = (float(np.mean(acc)), float(np.std(acc)), len(acc),
                  accuracy_interval(np.stack(bits)) if same else None)
    return out


def synthetic_used(paths) -> dict:
    """``{(dataset, method, shots): synthetic images per class trained on}``, the mean over the split seeds, from the
    result JSONs that record it (``synthetic.images``: what a filter such as DISEF's kept of the budget)."""
    runs: dict = {}
    for p in paths:
        r = json.loads(Path(p).read_text())
        n = (r.get("synthetic") or {}).get("images")
        if n is not None and r.get("classnames"):
            runs.setdefault((r["dataset"], r["variant"], int(r["shots"])), []).append(n / len(r["classnames"]))
    return {k: sum(v) / len(v) for k, v in runs.items()}


def _pm(cell) -> str:
    mean, std, n, ci = (*cell, None)[:4]
    text = f"{mean:.2f} ± {std:.2f}" if n > 1 else f"{mean:.2f}"
    return text if ci is None else f"{text} [{ci[0]:.2f}, {ci[1]:.2f}]"


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
                   "mix-RG": "CT w. Syn", "clip-lora": "CLIP-LoRA", "clip-lora-RG": "CLIP-LoRA w. Syn",
                   "clip-lora-DD": "DataDream", "clip-lora-DISEF": "DISEF"}


def strategies_rows(summary: dict, zeroshot: dict, datasets: list[dict], methods: list[str], shots: list[int],
                    syn_per_class: dict, hours: dict, used: dict | None = None):
    """results/strategies.csv: per dataset, zero-shot CLIP, then per shot count each method's top-1 (mean ± std over
    seeds [95 % interval]), its image budget per class (real, synthetic), ``hours[(method, dataset, shots)]`` (the
    device-hours of its own jobs, a string) and the synthetic images per class it trained on (``used[(dataset,
    method, shots)]`` where a result recorded it, e.g. after DISEF's filter; else the budget)."""
    header = ["Dataset", "Shots", "Method", "Top-1 (%)", "Real img/class", "Synthetic img/class", "Own device-hours",
              "Synthetic used/class"]
    used = used or {}
    rows = []
    for d in datasets:
        z = zeroshot[d["name"]]["metrics"]
        ci = z.get("acc1_ci95")
        acc = f"{z['acc1']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
        rows.append([d["title"], 0, "Zero-shot CLIP", acc, 0, 0, "-", 0])
        for k in shots:
            for m in methods:
                budget = syn_per_class.get(m, 0)
                kept = used.get((d["name"], m, k))
                rows.append([d["title"], k, FIGURE1_METHODS[m], _pm(summary[(d["name"], m, k)]), k, budget,
                             hours.get((m, d["name"], k), "/"), budget if kept is None else f"{kept:.3g}"])
    return header, rows


def figure1_rows(summary: dict, zeroshot: dict, datasets: list[dict]):
    """The CSV behind Figure 1: one row per (dataset, method, shots), zero-shot CLIP as shots = 0, each with the
    95 % interval of its mean (``zeroshot[name]``: the zero-shot result record; empty bounds without bits)."""
    header = ["dataset", "method", "shots", "acc1_mean", "acc1_std", "n_seeds", "acc1_ci95_lo", "acc1_ci95_hi"]

    def bounds(ci):
        return [f"{ci[0]:.2f}", f"{ci[1]:.2f}"] if ci is not None else ["", ""]

    rows = []
    for d in datasets:
        z = zeroshot[d["name"]]
        rows.append([d["name"], "Zero-shot CLIP", 0, f"{_acc(z):.2f}", "0.00", 1, *bounds(z["metrics"].get(
            "acc1_ci95"))])
        for m, label in FIGURE1_METHODS.items():
            for (ds, meth, k), cell in sorted(summary.items(), key=lambda kv: kv[0][2]):
                if ds == d["name"] and meth == m:
                    mean, std, n, ci = (*cell, None)[:4]
                    rows.append([ds, label, k, f"{mean:.2f}", f"{std:.2f}", n, *bounds(ci)])
    return header, rows
