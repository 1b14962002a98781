"""Training input pipeline: images streamed from an HDF5 image store vs the same images as PNG files in a folder.

Both sides hold the same N pictures (256 px, textured so PNG does not compress them away, as generated images do
not compress away) and run through the same DataLoader (batch 64, W workers) and the same transform, in this one
process, side by side. The store keeps PNG bytes too, so both decode the same PNGs: the difference is one open file
with chunked reads vs one file open per image. Each side runs one warm-up pass (page cache filled) before the
timed pass. Two transforms: decode only (ToTensor), and timm's training transform at 224 px (what Table 4 uses).
A third side holds the same images as pre-training generation shards (``--shards`` files, 10 classes x image
blocks), read through ``ShardedImages`` (what the pre-training jobs stream from; an LRU of open files). Every side
reads in the same shuffled order, as training does.

    .venv/bin/python bench/input_pipeline.py [--images 2000] [--workers 2] [--shards 20]
"""

import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision
from _bench import parser, per_second
from PIL import Image

from synrec.features import LabelledImages
from synrec.from_scratch import transforms
from synrec.pretrain_data import ShardedImages
from synrec.stores import ImageStore, ShardWriter


def make_images(n: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (8, size, size, 3), dtype=np.uint8)
    for i in range(n):
        noise = rng.integers(0, 48, (size, size, 3), dtype=np.uint8)
        yield i % 10, (base[i % 8] // 2 + noise).astype(np.uint8)


def images_per_second(dataset, workers: int) -> float:
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(0)).tolist()
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, num_workers=workers, sampler=order)
    return per_second(lambda: [None for _ in loader], len(order), 1, warmup=1)  # warm-up: page cache, workers


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shards", type=int, default=20, help="pre-training shards (a multiple of the 10 classes)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        writer = ShardWriter(tmp / "store.h5", {"bench": True})
        batch = []
        for label, img in make_images(args.images, 256):
            batch.append((label, img))
            (tmp / "png" / f"c{label}").mkdir(parents=True, exist_ok=True)
            folder = tmp / "png" / f"c{label}"
            Image.fromarray(img).save(folder / f"{len(list(folder.iterdir())):06d}.png")
            if len(batch) == 64:
                writer.append([b[1] for b in batch], [b[0] for b in batch], ["p"] * len(batch), [0] * len(batch))
                batch = []
        if batch:
            writer.append([b[1] for b in batch], [b[0] for b in batch], ["p"] * len(batch), [0] * len(batch))
        store = ImageStore(writer.finish())
        by_class = {}
        for label, img in make_images(args.images, 256):
            by_class.setdefault(label, []).append(img)
        per_class, blocks = args.images // 10, max(1, args.shards // 10)
        step = -(-per_class // blocks)
        shards = []
        for c in range(10):
            for b in range(blocks):
                block = [b * step, min(per_class, (b + 1) * step)]
                w = ShardWriter(tmp / "shards" / f"{c:05d}-{b:04d}.h5", {"block": block})
                imgs = by_class[c][b * step : (b + 1) * step]
                w.append(imgs, [c] * len(imgs), ["p"] * len(imgs), [0] * len(imgs))
                shards.append(w.finish())
        sharded = ShardedImages([(shards, 0)], per_class)
        png_bytes = sum(p.stat().st_size for p in (tmp / "png").rglob("*.png"))
        print(f"{args.images} images, 256 px: store {store.path.stat().st_size / 1e6:.0f} MB, "
              f"PNG folder {png_bytes / 1e6:.0f} MB, {args.workers} workers")
        for name, tf in (("decode only", torchvision.transforms.ToTensor()), ("timm train 224", transforms(224)[0])):
            h5 = images_per_second(LabelledImages(store, tf), args.workers)
            folder = images_per_second(torchvision.datasets.ImageFolder(tmp / "png", transform=tf), args.workers)
            sh = images_per_second(LabelledImages(sharded, tf), args.workers)
            print(f"{name:15s}  HDF5 store {h5:7.0f} img/s   {len(shards)} shards {sh:7.0f} img/s   PNG folder "
                  f"{folder:7.0f} img/s   ratio store/PNG {h5 / folder:.2f}x, shards/PNG {sh / folder:.2f}x")


if __name__ == "__main__":
    main()
