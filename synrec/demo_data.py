"""A small made-up dataset (coloured shapes) written in each real on-disk format the readers accept.

Used by the demo (``config/demo.yaml``) and the tests. The pictures are procedurally drawn, so a tiny random CLIP
scores them near chance: numbers computed on them say nothing about the paper.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES_CLASSES = ["red circle", "green square", "blue triangle", "yellow cross"]
_COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40)}


def draw_shape(classname: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One RGB uint8 picture of ``'<colour> <shape>'`` on a noisy background, jittered in place and size."""
    colour, shape = classname.split(" ", 1) if " " in classname else ("red", classname)
    bg = rng.integers(0, 90, size=3)
    arr = np.clip(bg + rng.normal(0, 12, size=(size, size, 3)), 0, 255).astype(np.uint8)
    im = Image.fromarray(arr)
    d = ImageDraw.Draw(im)
    r = int(size * rng.uniform(0.2, 0.35))
    cx, cy = (int(v) for v in rng.integers(r, size - r, size=2))
    fill = tuple(int(np.clip(c + rng.normal(0, 15), 0, 255)) for c in _COLOURS.get(colour, (200, 200, 200)))
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    else:  # cross, or any other name
        w = max(1, r // 3)
        d.rectangle([cx - r, cy - w, cx + r, cy + w], fill=fill)
        d.rectangle([cx - w, cy - r, cx + w, cy + r], fill=fill)
    return np.asarray(im)


def make_images(classnames: list[str], per_class: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(classnames)), per_class)
    images = np.stack([draw_shape(classnames[l], size, rng) for l in labels])
    return images, labels


def _fresh(root: Path) -> Path:
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    return root


def folder_name(classname: str) -> str:
    return classname.replace(" ", "_")


def write_imagefolder(root, classnames, per_class: dict[str, int], size: int = 32, seed: int = 0) -> Path:
    """``root/<split>/<class_folder>/<i>.png`` for each split in ``per_class`` (e.g. ``{'train': 8, 'test': 4}``)."""
    root = _fresh(root)
    for k, (split, n) in enumerate(per_class.items()):
        images, labels = make_images(classnames, n, size, seed + k)
        for i, (img, l) in enumerate(zip(images, labels)):
            d = root / split / folder_name(classnames[l])
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{i:05d}.png")
    return root


def write_cifar(root, classnames, per_class: dict[str, int], seed: int = 0, variant: str = "cifar10") -> Path:
    """The CIFAR python pickle layout (32x32): CIFAR-10 style batches or CIFAR-100 style train/test/meta."""
    root = _fresh(root)
    for k, split in enumerate(("train", "test")):
        images, labels = make_images(classnames, per_class.get(split, 0), 32, seed + k)
        data = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
        if variant == "cifar10":
            if split == "train":  # spread over the five batch files like the real one
                for b, idx in enumerate(np.array_split(np.arange(len(labels)), 5), start=1):
                    _dump(root / f"data_batch_{b}", {"data": data[idx], "labels": labels[idx].tolist()})
            else:
                _dump(root / "test_batch", {"data": data, "labels": labels.tolist()})
        else:
            _dump(root / split, {"data": data, "fine_labels": labels.tolist(), "coarse_labels": [0] * len(labels)})
    if variant == "cifar10":
        _dump(root / "batches.meta", {"label_names": list(classnames)})
    else:
        _dump(root / "meta", {"fine_label_names": list(classnames), "coarse_label_names": ["all"]})
    return root


def _dump(path: Path, obj) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def write_coop_split(root, classnames, per_class: dict[str, int], split_file: str, images: str = "images",
                     size: int = 32, seed: int = 0) -> Path:
    """CoOp's layout: ``root/<images>/<class_folder>/<file>`` plus ``root/<split_file>`` with train/val/test lists."""
    root = _fresh(root)
    table = {}
    for k, (split, n) in enumerate(per_class.items()):
        imgs, labels = make_images(classnames, n, size, seed + k)
        rows = []
        for i, (img, l) in enumerate(zip(imgs, labels)):
            rel = f"{folder_name(classnames[l])}/{split}_{i:05d}.png"
            (root / images / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / images / rel)
            rows.append([rel, int(l), classnames[l]])
        table[split] = rows
    (root / split_file).write_text(json.dumps(table))
    return root
