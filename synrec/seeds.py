"""Deterministic seeds derived from names, so every image and sentence can be regenerated on its own.

A seed depends on (base seed, dataset, class *name*, index) only - not on batch size, job split, run order or where
the class sits in the dataset's class list - which is what lets a killed generation job resume and a single class be
regenerated bit-for-bit (on the same hardware). Keyed on names, adding, removing or reordering classes in a dataset
YAML leaves every other class's images, sentences and shots as they were.

:func:`name_order` does the same for training order: rows sorted by class name (stably) before a seeded shuffle
give the same sequence of samples whatever label each class has, so a relabelled dataset trains the same head with
its rows permuted.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(base: int, *parts) -> int:
    """A 63-bit seed from the base seed and any names/indices (``derive_seed(0, 'eurosat', 3, 17)``)."""
    text = "|".join([str(base), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def name_rank(classnames: list[str]) -> np.ndarray:
    """``rank[label]``: the class's position in class-name order."""
    return np.argsort(np.argsort(np.asarray(classnames, dtype=object), kind="stable"), kind="stable")


def name_order(labels, classnames: list[str]) -> np.ndarray:
    """Row indices that put ``labels`` in class-*name* order, keeping the order within each class (a stable sort):
    a function of the names, not of the label numbers the dataset YAML happens to give them."""
    return np.argsort(name_rank(classnames)[np.asarray(labels, dtype=np.int64)], kind="stable")
