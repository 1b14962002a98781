"""A small made-up world of coloured shapes: the demo's datasets, written in each real on-disk format the readers
accept, and the pictures the demo models learn from (:mod:`synrec.demo_models`).

Two styles of picture:
* ``draw_shape`` -- the *photo* style of the demo datasets (and of what the demo text-to-image model learns): a dark,
  noisy background, a smallish shape, jittered colour.
* ``draw_clip_world`` -- what the demo CLIP learns from: plain backgrounds of brightness 75-255, no pixel noise,
  exact colours, larger shapes. The gap between the two styles is the demo's domain gap: the CLIP recognises the
  classes in the test pictures above chance but not at ceiling, so synthetic pictures in the test style can help.

Numbers computed on these pictures are a miniature of the paper's effects, not the paper's numbers.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES_CLASSES = ["red circle", "green square", "blue triangle", "yellow cross"]
_COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40),
            "purple": (140, 50, 190), "orange": (240, 140, 30), "white": (235, 235, 235), "cyan": (40, 200, 210)}
#: The world's vocabulary: every colour with every shape (32 names, wider than any demo dataset's classes).
COLOURS = list(_COLOURS)
SHAPES = ["circle", "square", "triangle", "cross"]
#: The demo T5's own words (every class word of the world): fixed, so that a run naming another dataset does not
#: retrain the demo models; other words are spelt by the tokenizer's pieces.
WORLD_WORDS = sorted({*COLOURS, *SHAPES})
#: The lowest background brightness of the CLIP world (the photo style's backgrounds are 0-90 plus noise).
CLIP_WORLD_FLOOR = 75


def _draw(d: ImageDraw.ImageDraw, shape: str, cx: int, cy: int, r: int, fill) -> None:
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


def draw_clip_world(classname: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One picture in the demo CLIP's style: a plain background of brightness >= CLIP_WORLD_FLOOR, exact colour."""
    colour, shape = classname.split(" ", 1)
    bg = tuple(int(v) for v in rng.integers(CLIP_WORLD_FLOOR, 256, size=3))
    im = Image.new("RGB", (size, size), bg)
    r = int(size * rng.uniform(0.3, 0.45))
    cx, cy = (int(v) for v in rng.integers(r, size - r + 1, size=2))
    _draw(ImageDraw.Draw(im), shape, cx, cy, r, _COLOURS[colour])
    return np.asarray(im)


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
    _draw(d, shape, cx, cy, r, fill)
    return np.asarray(im)


def make_images(classnames: list[str], per_class: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(classnames)), per_class)
    images = np.stack([draw_shape(classnames[label], size, rng) for label in labels])
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
        for i, (img, label) in enumerate(zip(images, labels)):
            d = root / split / folder_name(classnames[label])
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
        for i, (img, label) in enumerate(zip(imgs, labels)):
            rel = f"{folder_name(classnames[label])}/{split}_{i:05d}.png"
            (root / images / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / images / rel)
            rows.append([rel, int(label), classnames[label]])
        table[split] = rows
    (root / split_file).write_text(json.dumps(table))
    return root


# Each VOC class as a rectangle of its own colour (a made-up detection task: hues spread over the classes drawn,
# on a noisy background).
def _voc_colour(label: int, n_classes: int) -> tuple[int, int, int]:
    import colorsys

    r, g, b = colorsys.hsv_to_rgb(label / n_classes, 0.9, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def write_voc(root, classnames: list[str], sets: dict[str, int], year: str = "2007", size: int = 64,
              seed: int = 0) -> Path:
    """torchvision's VOCDetection layout: ``root/VOCdevkit/VOC<year>/{JPEGImages,Annotations,ImageSets/Main}`` with
    ``sets`` = ``{image set: number of images}`` (e.g. ``{'trainval': 40, 'test': 20}``); 1-3 objects an image,
    every third object marked difficult in the test set."""
    root = _fresh(root)
    base = root / "VOCdevkit" / f"VOC{year}"
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / sub).mkdir(parents=True)
    rng = np.random.default_rng(seed)
    n = 0
    for image_set, count in sets.items():
        ids = []
        for _ in range(count):
            stem = f"{year}_{n:06d}"
            n += 1
            ids.append(stem)
            bg = rng.integers(0, 80, size=3)
            arr = np.clip(bg + rng.normal(0, 10, size=(size, size, 3)), 0, 255).astype(np.uint8)
            im = Image.fromarray(arr)
            draw = ImageDraw.Draw(im)
            objects = []
            for k in range(int(rng.integers(1, 4))):
                label = int(rng.integers(0, len(classnames)))
                w, h = (int(v) for v in rng.integers(size // 5, size // 2, size=2))
                x0, y0 = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
                draw.rectangle([x0, y0, x0 + w - 1, y0 + h - 1], fill=_voc_colour(label, len(classnames)))
                hard = int(image_set == "test" and k == 2)
                objects.append(f"<object><name>{classnames[label]}</name><pose>Unspecified</pose>"
                               f"<truncated>0</truncated><difficult>{hard}</difficult><bndbox><xmin>{x0 + 1}</xmin>"
                               f"<ymin>{y0 + 1}</ymin><xmax>{x0 + w}</xmax><ymax>{y0 + h}</ymax></bndbox></object>")
            im.save(base / "JPEGImages" / f"{stem}.jpg", quality=95)
            (base / "Annotations" / f"{stem}.xml").write_text(
                f"<annotation><folder>VOC{year}</folder><filename>{stem}.jpg</filename><size><width>{size}</width>"
                f"<height>{size}</height><depth>3</depth></size>{''.join(objects)}</annotation>")
        (base / "ImageSets" / "Main" / f"{image_set}.txt").write_text("\n".join(ids) + "\n")
    return root
