"""Synthetic pre-training data at scale (Sec. 3.3): LE images over a label space, generated once, read as a prefix.

A **label space** is a list of class lists: ``C100 = [cifar100]`` (downstream-aware), ``IN-1K = [imagenet]`` and
``IN-2K = [imagenet, in21k_extra]`` (downstream-agnostic; the second list holds 1,000 ImageNet-21K classes that are
not in ImageNet-1K, ``config/label_spaces/in21k_extra.yaml``). Labels run through the lists in order, so IN-2K's
first 1,000 labels are IN-1K's.

An **amount** (1.2M, 2.4M, ...) over a space of C classes means ``amount // C`` images per class. Each class list is
generated once, to the largest count any configured run needs, by per-(class group, image block) GPU jobs; image
``i`` of a class uses LE sentence ``i mod S`` (so every prefix spreads over all S sentences) and has its own seed.
A smaller amount then reads the first ``n`` images of every class. IN-1K and IN-2K share the ImageNet-1K images.

The shards are the store: :class:`ShardedImages` indexes the rows a run needs across all shards of a space and
reads them one at a time (an LRU of open files), so a 4M-image space is never loaded or merged whole.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from pathlib import Path

import h5py
import numpy as np

from .errors import SynrecError
from .seeds import derive_seed
from .stores import decode_png


def per_class(amount: int, n_classes: int) -> int:
    n = amount // n_classes
    if n < 1:
        raise SynrecError(f"pretraining: {amount} images cannot cover {n_classes} classes")
    return n


def blocks(n_classes: int, images_per_class: int, classes_per_job: int, images_per_job: int) -> list[str]:
    """The generation jobs of a class list: ``<class group>-<image block>`` ids."""
    groups = math.ceil(n_classes / classes_per_job)
    parts = math.ceil(images_per_class / images_per_job)
    return [f"{g:05d}-{b:04d}" for g in range(groups) for b in range(parts)]


def block_range(block: str, n_classes: int, images_per_class: int, classes_per_job: int,
                images_per_job: int) -> tuple[list[int], int, int]:
    """(class labels, first image, end image) of a generation job."""
    g, b = (int(x) for x in block.split("-"))
    labels = list(range(g * classes_per_job, min(n_classes, (g + 1) * classes_per_job)))
    start = b * images_per_job
    return labels, start, min(images_per_class, start + images_per_job)


def plan_block(name: str, labels: list[int], prompts: list[list[str]], start: int, stop: int, seed: int,
               classnames: list[str]) -> list:
    """``[(label, index, prompt, seed), ...]`` of one job, rows ordered by (label, index); seeds keyed on names."""
    return [(label, i, prompts[label][i % len(prompts[label])],
             derive_seed(seed, "pretrain", name, classnames[label], i))
            for label in labels for i in range(start, stop)]


class ShardedImages:
    """The first ``per_class`` images of every class of a label space, read from generation shards.

    ``lists``: one ``(shard paths, label offset)`` per class list of the space. A shard's rows are ordered by
    (label, image index) over its ``block`` = [start, stop), which the shard records. Behaves like an image store
    (``labels``, ``image(i)``, ``fingerprint()``, ``len``) so the training code takes either. Images the safety
    checker blanked (``flagged``) are left out, so such a class trains on fewer; ``n_flagged_dropped`` counts them.
    """

    def __init__(self, lists: list[tuple[list[str | Path], int]], per_class: int, open_files: int = 64):
        self.per_class, self.open_files = per_class, open_files
        self.paths: list[Path] = []
        rows, labels, shard_ids, sigs, dropped = [], [], [], [], []
        for shards, offset in lists:
            for path in shards:
                path = Path(path)
                if not path.is_file():
                    raise SynrecError(f"pre-training shard {path} does not exist")
                with h5py.File(path, "r") as f:
                    if "block" not in f.attrs or "labels" not in f:
                        raise SynrecError(f"{path}: not a pre-training shard (no 'block' attribute)")
                    start, stop = json.loads(f.attrs["block"])  # ShardWriter stores lists as JSON
                    lab = f["labels"][:]
                    flagged = f["flagged"][:] if "flagged" in f else np.zeros(len(lab), np.uint8)
                    sigs.append(f"{path.name}:{f.attrs.get('settings', '')}:{len(lab)}")
                if start >= per_class:
                    continue
                index = start + np.arange(len(lab)) % max(1, stop - start)
                wanted = index < per_class
                keep = np.flatnonzero(wanted & (flagged == 0))
                dropped.append(lab[wanted & (flagged != 0)] + offset)
                rows.append(keep)
                labels.append(lab[keep] + offset)
                shard_ids.append(np.full(len(keep), len(self.paths)))
                self.paths.append(path)
        if not rows:
            raise SynrecError("pre-training data: no shards given")
        self.rows = np.concatenate(rows)
        self.labels = np.concatenate(labels).astype(np.int64)
        self.shard = np.concatenate(shard_ids)
        lost = np.concatenate(dropped).astype(np.int64)
        self.n_flagged_dropped = int(len(lost))
        counts = np.bincount(self.labels, minlength=int(lost.max(initial=-1)) + 1)
        counts[: len(np.bincount(lost))] += np.bincount(lost)  # a blanked image is not a missing one
        present = np.flatnonzero(counts)
        short = present[counts[present] < per_class]
        if len(short):
            raise SynrecError(f"pre-training data: class {int(short[0])} has {int(counts[short[0]])} images, "
                              f"{per_class} needed (generate more: pretraining amounts)")
        self._fp = hashlib.sha256(f"{per_class}|".encode() + "|".join(sigs).encode()).hexdigest()[:16]
        self._open: OrderedDict[int, h5py.Dataset] = OrderedDict()

    def __len__(self) -> int:
        return len(self.labels)

    def fingerprint(self) -> str:
        return self._fp

    def __getstate__(self):  # DataLoader workers open their own files
        return {**self.__dict__, "_open": OrderedDict()}

    def _images(self, s: int):
        ds = self._open.get(s)
        if ds is None:
            if len(self._open) >= self.open_files:
                _, old = self._open.popitem(last=False)
                old.file.close()
            ds = self._open[s] = h5py.File(self.paths[s], "r")["images"]
        else:
            self._open.move_to_end(s)
        return ds

    def image(self, i: int):
        return decode_png(self._images(int(self.shard[i]))[int(self.rows[i])])
