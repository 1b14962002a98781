"""The label checks every reader makes: the class count and, where the format names its classes, their order
against the config's ``disk_classnames`` (or ``classnames``); labels within range. A mismatch is a one-line
:class:`SynrecError`, never a silent shuffle."""

from __future__ import annotations

import unicodedata

import numpy as np

from ..errors import SynrecError


def _norm(name: str) -> str:
    """A class name for comparison: case, accents, spaces and punctuation ignored, every script's letters kept
    ('Café au lait' == 'cafe_au_lait'; '日本' != '中国')."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", name.casefold()) if ch.isalnum())


def _check_names(cfg: dict, disk_names: list[str], origin: str) -> None:
    expected = cfg.get("disk_classnames") or cfg["classnames"]
    if len(disk_names) != len(expected):
        raise SynrecError(
            f"dataset '{cfg['name']}': {origin} has {len(disk_names)} classes but {cfg.get('_path')} lists "
            f"{len(expected)}"
        )
    if not cfg.get("check_names", True):
        return
    for i, (d, e) in enumerate(zip(disk_names, expected)):
        if _norm(d) != _norm(e):
            raise SynrecError(
                f"dataset '{cfg['name']}': label {i} is '{d}' in {origin} but '{e}' in {cfg.get('_path')} "
                f"(classnames/disk_classnames must follow the dataset's label order)"
            )


def _check_label_range(cfg: dict, labels: np.ndarray, origin: str) -> None:
    n = len(cfg["classnames"])
    if len(labels) and (labels.min() < 0 or labels.max() >= n):
        raise SynrecError(
            f"dataset '{cfg['name']}': {origin} has label {int(labels.max())} but {cfg.get('_path')} lists "
            f"only {n} classes"
        )
