"""Whether a dataset is complete and readable, split by split (what ``python -m synrec.datasets --check`` and every
workflow run ask), and which splits a workflow config's studies read."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SynrecError
from .formats import ZEROSHOT_TEST, load_split
from .split import Split, dataset_folder


def has_val_split(cfg: dict, val_split: str) -> bool:
    """A val split distinct from the test split (else few-shot validation is drawn from the train split)."""
    splits = cfg["splits"]
    return cfg["format"] != "cifar" and val_split in splits and splits[val_split] != splits.get(
        cfg["test_split"], cfg["test_split"])


def splits_in_use(cfg: dict, workflow: dict) -> list[str]:
    """The splits of dataset ``cfg`` that a workflow config's studies read: the test split (and the zero-shot test
    list) for the zero-shot study; the few-shot train (and val) splits where the few-shot study or Table 4 uses it."""
    fs = workflow["few_shot"]
    out = [cfg["test_split"], *([ZEROSHOT_TEST] if "zeroshot_test" in cfg else [])]
    if cfg["name"] in fs["datasets"] or cfg["name"] == workflow["table4"]["dataset"]:
        out += [fs["train_split"], *([fs["val_split"]] if has_val_split(cfg, fs["val_split"]) else [])]
    return list(dict.fromkeys(out))


def count_problem(cfg: dict, split: str, images: int) -> str | None:
    """The line saying that ``split`` holds ``images`` images where the YAML's ``counts`` says otherwise (else None)."""
    expected = (cfg.get("counts") or {}).get(split)
    if expected is None or expected == images:
        return None
    return (f"{split}: {images:,} images, but key 'counts' of {cfg.get('_path', 'its config')} says {expected:,} "
            f"({'a partial download or extraction' if images < expected else 'extra images'}; a deliberate subset: "
            "drop the split from 'counts')")


def check_split(cfg: dict, s: Split, samples: int = 8) -> tuple[str, list[str]]:
    """``(status, problems)`` of a split that reads: ``incomplete`` when a listed image does not exist or the image
    count differs from the YAML's ``counts``; ``unreadable`` when one of ``samples`` images, spread over the split,
    does not decode; else ``ok``."""
    problems = []
    absent = s.missing()
    if absent:
        problems.append(f"{s.split}: {len(absent)} of {len(s)} listed images do not exist, e.g. {absent[0]}")
    problems += [p for p in [count_problem(cfg, s.split, len(s))] if p]
    if problems:
        return "incomplete", problems
    for i in np.unique(np.linspace(0, len(s) - 1, min(samples, len(s))).astype(int)):
        try:
            s.image(int(i))
        except SynrecError as exc:
            return "unreadable", [f"{s.split}: {exc}"]
    return "ok", []


def check_dataset(cfg: dict, data_root: str | Path, splits: list[str], samples: int = 8) -> dict:
    """Whether a dataset is present, complete and readable: ``{"status": ok|missing|incomplete|unreadable,
    "counts": {split: images}, "problems": [one line each]}``. Complete: every split reads (split files, folders,
    class names and count as the YAML says), every image it lists exists, and it holds as many images as the YAML's
    ``counts`` says; readable: ``samples`` images per split, spread over it, decode (:func:`check_split`)."""
    out = {"status": "ok", "counts": {}, "problems": []}
    root = dataset_folder(cfg, data_root)
    if not root.is_dir():
        return {**out, "status": "missing", "problems": [f"folder {root} does not exist"]}
    rank = {"ok": 0, "unreadable": 1, "incomplete": 2}
    for split in splits:
        try:
            s = load_split(cfg, data_root, split)
        except SynrecError as exc:
            out["problems"].append(str(exc))
            out["status"] = "incomplete"
            continue
        out["counts"][split] = len(s)
        status, problems = check_split(cfg, s, samples)
        out["problems"] += problems
        out["status"] = max(out["status"], status, key=rank.get)
    return out
