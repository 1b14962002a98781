"""Result records: one JSON per (dataset, backbone, variant) with the metrics and everything that produced them."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

from . import __version__
from .config import config_hash
from .errors import SynrecError


def result_record(config: dict, dataset: str, backbone: str, variant: str, metrics: dict, n_train: int,
                  seed: int, settings: dict | None = None, history: list | None = None,
                  extra: dict | None = None, classnames: list[str] | None = None) -> dict:
    """``classnames`` (the head's, in label order) name the entries of ``metrics['recall_per_class']``."""
    models = config["models"]
    named = re.search(r"@(\w+)", variant)  # a run on one of the config's generators: LE@<name>+CF-SCE
    generator = config["generators"][named.group(1)] if named else models["text_to_image"]
    return {
        **(extra or {}),
        "dataset": dataset,
        "backbone": backbone,
        "variant": variant,
        "metrics": metrics,
        **({"classnames": list(classnames)} if classnames is not None else {}),
        "n_train": int(n_train),
        "seed": seed,
        "models": {"clip": models["clip"].get(backbone), "text_to_image": generator,
                   "word_to_sentence": models["word_to_sentence"]},
        "settings": settings or {},
        "config_hash": config_hash(config),
        "history": history or [],
        "synrec_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def check_same_model(a_path, a: dict, b_path, b: dict, head_path, head_model: dict) -> None:
    """Two feature stores (their key parts) and a head must come from the same CLIP weights and preprocessing, or
    the tuned head would be meaningless."""
    if a["model"] != b["model"] or a["preprocess"] != b["preprocess"]:
        raise SynrecError(f"{a_path} and {b_path} were computed with different CLIP models or preprocessing")
    if a["model"] != head_model:
        raise SynrecError(f"{head_path} was built from another CLIP model than {a_path}")


def load_results(paths) -> dict:
    """``{(dataset, backbone, variant): result record}`` from result JSONs."""
    out = {}
    for p in paths:
        r = json.loads(Path(p).read_text())
        out[(r["dataset"], r["backbone"], r["variant"])] = r
    return out


def load_accuracies(paths) -> dict:
    """``{(dataset, backbone, variant): acc1}`` from result JSONs."""
    return {k: float(r["metrics"]["acc1"]) for k, r in load_results(paths).items()}
