"""Can a node's CPU cores feed its GPU during pre-training? Images/s that one core decodes and augments (PNG as the
store holds them today, and JPEG), against what one GPU consumes training ResNet-50, side by side in one run; on a
GPU also ``torchvision.io.decode_jpeg`` on CUDA tensors (the lever if the cores fall short).

    .venv/bin/python bench/decode_throughput.py            # CPU: the per-core rates; ResNet-50 at 64 px as a stand-in
    python bench/decode_throughput.py                      # on a GPU: ResNet-50 at 224 px, bf16, batch 128

Prints images/s per core for decode only and decode + timm's ImageNet train transform, and how many cores one GPU
needs (GPU images/s over per-core images/s). ``generation.image_format: jpeg`` stores JPEG.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from _bench import device, device_name, parser, per_second
from PIL import Image
from pretrain_throughput import images_per_second

from synrec.stores import encode_image


def textured(n: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth random colour fields plus noise: compresses like a generated photo, not like flat colour."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        low = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
        img = np.asarray(Image.fromarray(low).resize((size, size), Image.BICUBIC), dtype=np.int16)
        out.append(np.clip(img + rng.integers(-12, 13, img.shape), 0, 255).astype(np.uint8))
    return out


def encode(images, fmt: str) -> list[bytes]:
    """As the stores encode them (``synrec.stores.encode_image``: PNG at compress level 1, JPEG at quality 95)."""
    return [encode_image(im, fmt.lower()).tobytes() for im in images]


def per_core(blobs, transform=None) -> float:
    torch.set_num_threads(1)

    def decode_all():
        for b in blobs:
            img = Image.open(io.BytesIO(b)).convert("RGB")
            if transform is not None:
                transform(img)

    return per_second(decode_all, len(blobs), 1)


def gpu_jpeg(blobs, dev, batch: int = 128) -> float:
    from torchvision.io import decode_jpeg

    data = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
    decode_jpeg(data[:batch], device=dev)  # warm-up
    return per_second(lambda: [decode_jpeg(data[a : a + batch], device=dev) for a in range(0, len(data), batch)],
                      len(data), 1, dev)


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--size", type=int, default=256, help="stored image size (the paper's store_size)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    import timm.data

    dev = device()
    threads = torch.get_num_threads()
    gpu = dev.type == "cuda"
    images = textured(args.images, args.size)
    png, jpeg = encode(images, "PNG"), encode(images, "JPEG")
    train = timm.data.create_transform(224, is_training=True)
    rates = {"png decode": per_core(png), "jpeg decode": per_core(jpeg),
             "png decode + timm train 224": per_core(png, train), "jpeg decode + timm train 224": per_core(jpeg, train)}
    torch.set_num_threads(threads)
    size = 224 if gpu else 64
    consume = images_per_second("supervised", "resnet50", args.batch if gpu else 16, size, args.steps if gpu else 2,
                                dev, gpu, {})
    how = "bf16, 224 px" if gpu else "fp32, 64 px"
    print(f"{device_name(dev)}: ResNet-50 training consumes {consume:.0f} img/s ({how}); "
          f"stored {args.size} px, PNG {np.mean([len(b) for b in png]) / 1e3:.0f} kB, "
          f"JPEG q95 {np.mean([len(b) for b in jpeg]) / 1e3:.0f} kB per image")
    for k, v in rates.items():
        print(f"  one core, {k:30s} {v:7.0f} img/s -> {consume / v:5.1f} cores per GPU")
    if gpu:
        g = gpu_jpeg(jpeg, dev, args.batch)
        print(f"  GPU decode_jpeg (batches of {args.batch})    {g:7.0f} img/s = {g / consume:.1f}x what training "
              "consumes")


if __name__ == "__main__":
    main()
