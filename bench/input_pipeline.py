"""Training input pipeline: images streamed from an HDF5 image store vs the same images as PNG files in a folder.

Both sides hold the same N pictures (256 px, textured so PNG does not compress them away, as generated images do
not compress away) and run through the same DataLoader (batch 64, W workers) and the same transform, in this one
process, side by side. The store keeps PNG bytes too, so both decode the same PNGs: the difference is one open file
with chunked reads vs one file open per image. Each side runs one warm-up pass (page cache filled) before the
timed pass. Two transforms: decode only (ToTensor), and timm's training transform at 224 px (what Table 4 uses).

    .venv/bin/python bench/input_pipeline.py [--images 2000] [--workers 2]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image

from synrec.features import LabelledImages
from synrec.from_scratch import transforms
from synrec.stores import ImageStore, ShardWriter


def make_images(n: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (8, size, size, 3), dtype=np.uint8)
    for i in range(n):
        noise = rng.integers(0, 48, (size, size, 3), dtype=np.uint8)
        yield i % 10, (base[i % 8] // 2 + noise).astype(np.uint8)


def images_per_second(dataset, workers: int) -> float:
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, num_workers=workers)
    for _ in loader:  # warm-up pass: page cache, worker start
        pass
    start = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        writer = ShardWriter(tmp / "store.h5", {"bench": True})
        batch = []
        for label, img in make_images(args.images, 256):
            batch.append((label, img))
            (tmp / "png" / f"c{label}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(tmp / "png" / f"c{label}" / f"{len(list((tmp / 'png' / f'c{label}').iterdir())):06d}.png")
            if len(batch) == 64:
                writer.append([b[1] for b in batch], [b[0] for b in batch], ["p"] * len(batch), [0] * len(batch))
                batch = []
        if batch:
            writer.append([b[1] for b in batch], [b[0] for b in batch], ["p"] * len(batch), [0] * len(batch))
        store = ImageStore(writer.finish())
        png_bytes = sum(p.stat().st_size for p in (tmp / "png").rglob("*.png"))
        print(f"{args.images} images, 256 px: store {store.path.stat().st_size / 1e6:.0f} MB, "
              f"PNG folder {png_bytes / 1e6:.0f} MB, {args.workers} workers")
        for name, tf in (("decode only", torchvision.transforms.ToTensor()), ("timm train 224", transforms(224)[0])):
            h5 = images_per_second(LabelledImages(store, tf), args.workers)
            folder = images_per_second(torchvision.datasets.ImageFolder(tmp / "png", transform=tf), args.workers)
            print(f"{name:15s}  HDF5 store {h5:7.0f} img/s   PNG folder {folder:7.0f} img/s   ratio {h5 / folder:.2f}x")


if __name__ == "__main__":
    main()
