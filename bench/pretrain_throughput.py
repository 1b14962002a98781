"""Pre-training throughput per device: optimiser steps of supervised (ResNet-50, DeiT-S) and MoCo v2 (ResNet-50)
training on in-memory random batches (the input pipeline is measured apart, in bench/input_pipeline.py), under
bfloat16 autocast (what the training loop uses on GPUs; on CPU it trains in float32) and in float32, side by side in
this one process.

    .venv/bin/python bench/pretrain_throughput.py                       # on a GPU: the paper's models at 224 px
    .venv/bin/python bench/pretrain_throughput.py --tiny --steps 5      # CPU smoke run: tiny models at 64 px

Prints images/s per configuration and the bfloat16/float32 ratio. Multiply by the GPUs of a job for DDP's ceiling.
"""

import contextlib

import torch
import torch.nn.functional as F
from _bench import device, device_name, parser, per_second, ratio

from synrec.pretrain import build


def images_per_second(method, name, batch, size, steps, dev, amp, kwargs):
    cfg = {"dim": 128, "queue": 65536, "m": 0.999, "temperature": 0.2}
    model, _ = build(method, name, 1000, cfg, 0, kwargs)
    model.to(dev).train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, size, size, device=dev)
    x2 = torch.randn_like(x)
    y = torch.randint(0, 1000, (batch,), device=dev)
    ctx = torch.autocast(dev.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()

    def step():
        with ctx:
            loss = model(x, x2) if method == "mocov2" else F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return per_second(step, batch, steps, dev, warmup=3)  # warm-up: kernels, allocator


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tiny", action="store_true", help="resnet10t / a 2-block ViT at 64 px (CPU smoke run)")
    args = ap.parse_args()
    dev = device()
    size = 64 if args.tiny else 224
    vit = {"img_size": 64, "patch_size": 8, "depth": 2} if args.tiny else {}
    runs = [("supervised", "resnet10t" if args.tiny else "resnet50", {}),
            ("supervised", "vit_tiny_patch16_224" if args.tiny else "deit_small_patch16_224", vit),
            ("mocov2", "resnet10t" if args.tiny else "resnet50", {})]
    print(f"device {device_name(dev)}, batch {args.batch}, {size} px, {args.steps} timed steps")
    for method, model, kwargs in runs:
        bf16 = images_per_second(method, model, args.batch, size, args.steps, dev, True, kwargs)
        fp32 = images_per_second(method, model, args.batch, size, args.steps, dev, False, kwargs)
        ratio(f"{method:10s} {model:24s}", "bf16", bf16, "fp32", fp32, "img/s")


if __name__ == "__main__":
    main()
