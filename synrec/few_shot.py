"""Few-shot splits in CoOp's convention: K real shots per class drawn from the train split, for seeds 1, 2, 3.

For each (K, seed) the shots are drawn per class without replacement from the train split, and a few-shot
*validation* set of ``min(K, 4)`` images per class from the val split (CoOp/Dassl). The test split is never touched:
every choice (Tip-Adapter's alpha/beta, a best epoch) is made on the few-shot validation set. A class with fewer
than K training images contributes all it has.

Two samplers (``few_shot.sampler``):

* ``dassl`` (default) - Dassl's ``generate_fewshot_dataset`` exactly: ``random.seed(seed)``, then for each class in
  order of first appearance in the split, ``random.sample(its items, K)``; the val set continues the same stream. On
  the datasets read from CoOp's split JSON (format ``coop_split``: Caltech101, Pets, Cars, SUN397, DTD, EuroSAT,
  Flowers, Food-101) seeds 1-3 give the very shots CoOp trained on. ImageNet and Aircraft are read as folders, in
  another item order, so there only the rule and the seeds are CoOp's, not the shots. Tip-Adapter's own loaders draw
  the val set before the train shots, so its shots differ from CoOp's (and ours) everywhere. Relabelling classes does
  not move the shots (the order is the data's), but adding or removing a class shifts every later class's draw.
* ``by-name`` - each class drawn from its own generator keyed on (seed, K, class name): a class's shots never
  depend on the other classes.
"""

from __future__ import annotations

import random

import numpy as np

from .seeds import derive_seed

#: the few-shot methods on cached features (:mod:`synrec.few_shot_methods` runs them; listed here, torch-free, for the
#: workflow's wildcards)
METHODS = ["ct-init", "tip", "tip-f", "mix-B", "mix-RF", "mix-RG", "syn2real-RG", "real2syn-RG"]


def synthetic_source(method: str) -> str | None:
    """Which synthetic data a few-shot method trains on: 'B', 'RF', 'RG' or None."""
    return method.rsplit("-", 1)[1] if method.startswith(("mix-", "syn2real-", "real2syn-")) else None


def sample_shots(labels: np.ndarray, k: int, seed: int, classnames: list[str]) -> np.ndarray:
    """Sorted indices of ``k`` items per class (all of a class that has fewer), reproducible from ``seed``; a class's
    draw is keyed on its name, so it does not change when classes are relabelled or reordered."""
    labels = np.asarray(labels)
    picked = []
    for c, name in enumerate(classnames):
        idx = np.flatnonzero(labels == c)
        rng = np.random.default_rng(derive_seed(seed, "shots", k, name))
        picked.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def dassl_shots(labels, k: int, rng: random.Random) -> np.ndarray:
    """Dassl's per-class ``random.sample`` over the items in data order (all of a class that has fewer), drawing
    from ``rng``; sorted indices."""
    tracker: dict[int, list[int]] = {}
    for i, label in enumerate(np.asarray(labels).tolist()):
        tracker.setdefault(label, []).append(i)
    picked = []
    for items in tracker.values():
        picked += rng.sample(items, k) if len(items) >= k else items
    return np.sort(np.asarray(picked, dtype=np.int64))


def few_shot_split(train_labels: np.ndarray, val_labels: np.ndarray | None, k: int, seed: int,
                   classnames: list[str], sampler: str = "dassl") -> dict:
    """``{"train": indices into the train split, "val": indices, "val_from": "val" | "train"}`` for one (K, seed).

    Without a val split distinct from the test split (ImageNet's 'val' *is* its test set) the validation images
    are drawn from the train split, never overlapping the shots."""
    train_labels = np.asarray(train_labels)
    if sampler == "dassl":
        rng = random.Random(seed)
        shots = dassl_shots(train_labels, k, rng)
        if val_labels is not None:
            return {"train": shots, "val": dassl_shots(val_labels, min(k, 4), rng), "val_from": "val"}
        rest = np.setdiff1d(np.arange(len(train_labels)), shots)
        return {"train": shots, "val": rest[dassl_shots(train_labels[rest], min(k, 4), rng)], "val_from": "train"}
    if sampler != "by-name":
        raise ValueError(f"unknown few-shot sampler {sampler!r} (dassl or by-name)")
    shots = sample_shots(train_labels, k, seed, classnames)
    if val_labels is not None:
        return {"train": shots, "val": sample_shots(val_labels, min(k, 4), derive_seed(seed, "val"), classnames),
                "val_from": "val"}
    rest = np.setdiff1d(np.arange(len(train_labels)), shots)
    val = rest[sample_shots(train_labels[rest], min(k, 4), derive_seed(seed, "val"), classnames)]
    return {"train": shots, "val": np.sort(val), "val_from": "train"}
