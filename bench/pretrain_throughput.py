"""Pre-training throughput per device: optimiser steps of supervised (ResNet-50, DeiT-S) and MoCo v2 (ResNet-50)
training on in-memory random batches (the input pipeline is measured apart, in bench/input_pipeline.py), under
bfloat16 autocast (what the training loop uses on GPUs; on CPU it trains in float32) and in float32, side by side in
this one process.

    .venv/bin/python bench/pretrain_throughput.py                       # on a GPU: the paper's models at 224 px
    .venv/bin/python bench/pretrain_throughput.py --tiny --steps 5      # CPU smoke run: tiny models at 64 px

Prints images/s per configuration and the bfloat16/float32 ratio. Multiply by the GPUs of a job for DDP's ceiling.
"""

import argparse
import contextlib
import time

import torch
import torch.nn.functional as F

from synrec.pretrain import build


def images_per_second(method, name, batch, size, steps, device, amp, kwargs):
    cfg = {"dim": 128, "queue": 65536, "m": 0.999, "temperature": 0.2}
    model, _ = build(method, name, 1000, cfg, 0, kwargs)
    model.to(device).train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, size, size, device=device)
    x2 = torch.randn_like(x)
    y = torch.randint(0, 1000, (batch,), device=device)
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()

    def step():
        with ctx:
            loss = model(x, x2) if method == "mocov2" else F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up: kernels, allocator
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--tiny", action="store_true", help="resnet10t / a 2-block ViT at 64 px (CPU smoke run)")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    size = 64 if args.tiny else 224
    vit = {"img_size": 64, "patch_size": 8, "depth": 2} if args.tiny else {}
    runs = [("supervised", "resnet10t" if args.tiny else "resnet50", {}),
            ("supervised", "vit_tiny_patch16_224" if args.tiny else "deit_small_patch16_224", vit),
            ("mocov2", "resnet10t" if args.tiny else "resnet50", {})]
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"device {name}, batch {args.batch}, {size} px, {args.steps} timed steps")
    for method, model, kwargs in runs:
        bf16 = images_per_second(method, model, args.batch, size, args.steps, device, True, kwargs)
        fp32 = images_per_second(method, model, args.batch, size, args.steps, device, False, kwargs)
        print(f"{method:10s} {model:24s} bf16 {bf16:8.1f} img/s   fp32 {fp32:8.1f} img/s   ratio {bf16 / fp32:.2f}x")


if __name__ == "__main__":
    main()
