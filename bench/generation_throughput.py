"""Text-to-image throughput of the true-size Stable Diffusion stand-in (random weights, SD v1-4's shapes), and what
each speed setting of ``generation:`` buys, measured side by side in this one process.

    .venv/bin/python bench/generation_throughput.py                   # CPU: 512 px, 1 step, batch 1, no levers
    .venv/bin/python bench/generation_throughput.py --steps 50 --batches 1,4,8,16 --levers all   # on a GPU

It builds the model with ``python -m synrec.true_size`` (``--model`` reuses a folder) and loads it through the
workflow's own loader. It reports:

* per batch size, seconds per image split into text encoding, UNet (all steps), VAE decode, safety checker, and
  resize + PNG encode + HDF5 write, against one whole ``generate_shard`` run of the same batches (the sum checks the
  split);
* on a GPU, the UNet's achieved TFLOP/s (operations counted by ``torch.utils.flop_counter``) as a share of a bf16
  8192^3 matmul measured in the same run;
* start-up of a job (a fresh Python: imports and model load from local disk), and the ``classes_per_job`` that keeps
  it under 5% of a job at the paper's 2,000 images per class;
* with ``--levers``: DPM-Solver++ at 20/25 steps vs the 50-step PNDM protocol, SDPA vs classic attention,
  channels_last, torch.compile, per-image vs batched VAE decode, background vs inline PNG encoding. Each is a ratio
  of two timings taken here, at the largest batch size.

Everything goes to a JSON (``--out``) that ``python -m synrec.cost --estimate`` can read for its images/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from _bench import device_name, parser, save, seconds

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from synrec import true_size  # noqa: E402
from synrec.generation import _to_uint8, apply_speed_settings, generate_shard  # noqa: E402
from synrec.models import load_text_to_image  # noqa: E402
from synrec.stores import ShardWriter  # noqa: E402

PROMPT = "a photo of a {}, a type of pet, sitting on a sofa in the sun"
CLASSES = ["beagle", "sphynx", "pug", "bengal", "boxer", "persian", "havanese", "samoyed"]


def gen_cfg(args, **over):
    g = {"num_inference_steps": args.steps, "guidance_scale": 3.0, "height": args.size, "width": args.size,
         "store_size": args.size // 2, "batch_size": 1, "safety_checker": "drop", "background_encode": False}
    return {**g, **over}


def plan(n, batch):
    return [(i % len(CLASSES), i, PROMPT.format(CLASSES[i % len(CLASSES)]), 1000 + i) for i in range(n)]


def component_split(pipe, args, batch, device, dtype):
    """Seconds per batch of each stage of one image's generation, timed on its own."""
    prompts = [PROMPT.format(CLASSES[i % len(CLASSES)]) for i in range(batch)]
    lat = args.size // 8
    rep = args.repeat

    def text():
        return pipe.encode_prompt(prompts, device, 1, True)

    cond, uncond = text()
    emb = torch.cat([uncond, cond])
    x = torch.randn(2 * batch, 4, lat, lat, device=device, dtype=dtype)
    t = torch.tensor(500, device=device)

    def unet():
        with torch.inference_mode():
            return pipe.unet(x, t, encoder_hidden_states=emb).sample

    z = torch.randn(batch, 4, lat, lat, device=device, dtype=dtype)

    def vae():
        with torch.inference_mode():
            return pipe.vae.decode(z / pipe.vae.config.scaling_factor).sample

    images = pipe.image_processor.postprocess(vae(), output_type="np")

    def checker():
        return pipe.run_safety_checker(images, device, dtype)

    with tempfile.TemporaryDirectory() as tmp:
        writer = ShardWriter(Path(tmp) / "s.h5", {"bench": 1})

        def encode():
            writer.append(_to_uint8(list(images), args.size // 2), [0] * batch, prompts, list(range(batch)))

        for f in (text, unet, vae, checker, encode):  # warm-up
            f()
        split = {"text_encoder": seconds(text, device, rep), "unet_step": seconds(unet, device, rep),
                 "vae_decode": seconds(vae, device, rep), "safety_checker": seconds(checker, device, rep),
                 "png_hdf5": seconds(encode, device, rep)}
        writer.close()
    split["unet_all_steps"] = split["unet_step"] * args.steps
    return split, (unet, x)


def whole_run(pipe, args, batch, device, n_batches=2, **over):
    """Seconds per image of ``generate_shard`` over ``n_batches`` batches (after one warm-up batch)."""
    cfg = gen_cfg(args, batch_size=batch, **over)
    with tempfile.TemporaryDirectory() as tmp:
        generate_shard(pipe, plan(batch, batch), Path(tmp) / "warm.h5", cfg, {"bench": 1}, progress=False)
        return seconds(lambda: generate_shard(pipe, plan(batch * n_batches, batch), Path(tmp) / "s.h5", cfg,
                                              {"bench": 1}, progress=False), device) / (batch * n_batches)


def matmul_peak(device):
    n = 8192
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    for _ in range(3):
        a @ b
    sec = seconds(lambda: [a @ b for _ in range(10)], device) / 10
    return 2 * n**3 / sec / 1e12


def unet_flops(unet_call):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        unet_call()
    return counter.get_total_flops()


def startup(model_dir, device, dtype_name):
    """Seconds for a fresh Python to import what a generation job imports and load the pipeline onto the device."""
    code = (
        "import time, json; t0 = time.perf_counter(); import torch, diffusers, synrec.generation; "
        "from synrec.models import load_text_to_image; t1 = time.perf_counter(); "
        f"p = load_text_to_image({{'model': {str(model_dir)!r}, 'dtype': {dtype_name!r}}}, {device.type!r}, "
        "safety_checker=True); torch.cuda.synchronize() if torch.cuda.is_available() else None; "
        "print(json.dumps({'import_s': t1 - t0, 'load_s': time.perf_counter() - t1}))"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0
    return res


def levers(pipe, args, batch, device, dtype, unet_call, deadline):
    """Each speed setting against the protocol's path, timed here."""
    unet_call()
    base_unet_step = seconds(unet_call, device, args.repeat)  # again here, beside the levers that change it
    out = {"unet_step_s": base_unet_step}
    if args.levers == "compile":
        return {**out, **compile_lever(pipe, args, batch, device, unet_call, base_unet_step)}
    if args.levers == "encode":
        return {**out, **encode_lever(pipe, args, batch, device)}
    # 1. sampler: DPM-Solver++ at 20 and 25 steps vs the pipeline's PNDM at --steps (whole generate_shard runs)
    base = whole_run(pipe, args, batch, device)
    out["protocol_s_per_image"] = base
    sched = pipe.scheduler
    apply_speed_settings(pipe, {"sampler": "dpmsolver++"})
    for steps in (20, 25) if args.steps > 25 else ():  # (a CPU run at 1 step has nothing to compare)
        s = whole_run(pipe, argparse.Namespace(**{**vars(args), "steps": steps}), batch, device)
        out[f"dpmsolver++_{steps}_steps"] = {"s_per_image": s, "speedup": base / s}
    pipe.scheduler = sched
    # 2. background PNG encoding vs inline (the protocol's path; same bytes)
    out.update(encode_lever(pipe, args, batch, device))
    # 3. VAE: per-image vs batched decode
    z = torch.randn(batch, 4, args.size // 8, args.size // 8, device=device, dtype=dtype)

    def decode():
        with torch.inference_mode():
            pipe.vae.decode(z / pipe.vae.config.scaling_factor)

    decode()
    batched = seconds(decode, device, args.repeat)
    pipe.vae.enable_slicing()
    decode()
    sliced = seconds(decode, device, args.repeat)
    pipe.vae.disable_slicing()
    out["vae_per_image"] = {"batched_s": batched, "per_image_s": sliced, "per_image_over_batched": sliced / batched}
    # 4. channels_last: UNet step and VAE decode
    pipe.unet.to(memory_format=torch.channels_last)
    pipe.vae.to(memory_format=torch.channels_last)
    unet_call()
    decode()
    cl_unet, cl_vae = seconds(unet_call, device, args.repeat), seconds(decode, device, args.repeat)
    pipe.unet.to(memory_format=torch.contiguous_format)
    pipe.vae.to(memory_format=torch.contiguous_format)
    out["channels_last"] = {"unet_speedup": base_unet_step / cl_unet, "vae_speedup": batched / cl_vae}
    # 5. classic (unfused) attention vs SDPA, UNet step
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    pipe.unet.set_attn_processor(AttnProcessor())
    try:
        unet_call()
        classic = seconds(unet_call, device, args.repeat)
        out["sdpa_vs_classic"] = {"classic_unet_step_s": classic, "sdpa_speedup": classic / base_unet_step}
    except torch.OutOfMemoryError:
        out["sdpa_vs_classic"] = {"classic": "out of memory"}
    pipe.unet.set_attn_processor(AttnProcessor2_0())
    # 6. torch.compile of the UNet (compile time counted apart), if time is left
    if args.compile and time.time() < deadline - 120:
        out.update(compile_lever(pipe, args, batch, device, unet_call, base_unet_step))
    return out


def encode_lever(pipe, args, batch, device):
    """A shard of ``--encode-batches`` batches, inline PNG encoding vs in a worker thread: only the last batch's
    encoding cannot overlap, so more batches show more of the gain (a job writes 2,000 images per class)."""
    n = args.encode_batches
    inline = whole_run(pipe, args, batch, device, n_batches=n)
    bg = whole_run(pipe, args, batch, device, n_batches=n, background_encode=True)
    return {"background_encode": {"batches": n, "inline_s_per_image": inline, "s_per_image": bg,
                                  "speedup": inline / bg}}


def compile_lever(pipe, args, batch, device, unet_call, base_unet_step):
    unet = pipe.unet
    pipe.unet = torch.compile(unet)
    compile_s = seconds(unet_call, device)
    unet_call()
    compiled = seconds(unet_call, device, args.repeat)
    pipe.unet = unet
    saved = (base_unet_step - compiled) * args.steps / batch  # seconds saved per image
    return {"compile": {"compile_s": compile_s, "compiled_unet_step_s": compiled,
                        "unet_speedup": base_unet_step / compiled,
                        "break_even_images": compile_s / saved if saved > 0 else None}}


def main() -> None:
    ap = parser(__doc__, out="generation_throughput")
    ap.add_argument("--model", help="a true-size SD folder to reuse (default: build one in a temp folder)")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=None, help="default: 50 on a GPU, 1 on CPU")
    ap.add_argument("--batches", default=None, help="default: 1,4,8,16 on a GPU, 1 on CPU")
    ap.add_argument("--dtype", default="float16", help="on a GPU (CPU runs float32)")
    ap.add_argument("--levers", choices=["none", "all", "compile", "encode"], default=None,
                    help="default: all on a GPU; compile / encode: only torch.compile / background encoding")
    ap.add_argument("--encode-batches", type=int, default=2, help="batches per run of the background-encode lever")
    ap.add_argument("--skip-startup", action="store_true")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--images-per-class", type=int, default=2000)
    ap.add_argument("--budget", type=float, default=1e9, help="seconds; sections that would overrun are skipped")
    args = ap.parse_args()
    deadline = time.time() + args.budget
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.type == "cuda"
    args.steps = args.steps or (50 if gpu else 1)
    batches = [int(b) for b in (args.batches or ("1,4,8,16" if gpu else "1")).split(",")]
    args.levers = args.levers or ("all" if gpu else "none")
    dtype = getattr(torch, args.dtype) if gpu else torch.float32
    result = {"device": device_name(device),
              "torch": torch.__version__, "python": platform.python_version(), "size": args.size,
              "steps": args.steps, "dtype": str(dtype).replace("torch.", "")}
    out_path = Path(args.out)

    tmp = tempfile.TemporaryDirectory()
    model = Path(args.model) if args.model else Path(tmp.name) / "stable-diffusion"
    if not (model / "model_index.json").is_file():
        t0 = time.perf_counter()
        true_size.build("sd", model)
        result["build_s"] = time.perf_counter() - t0
    if not args.skip_startup:
        result["startup"] = startup(model, device, args.dtype)
        print(f"{result['device']}: start-up {result['startup']}", flush=True)
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    pipe = load_text_to_image({"model": str(model), "dtype": args.dtype}, device, safety_checker=True)
    if gpu:
        result["bf16_matmul_tflops"] = matmul_peak(device)
    result["batches"] = {}
    unet_call = None
    for b in batches:
        if time.time() > deadline - 60:
            print(f"budget: skipping batch {b}", flush=True)
            continue
        try:
            split, (unet_call, x) = component_split(pipe, args, b, device, dtype)
            split["whole_s_per_image"] = whole_run(pipe, args, b, device)
        except torch.OutOfMemoryError:
            result["batches"][b] = "out of memory"
            continue
        per_image = {k: v / b for k, v in split.items() if k not in ("unet_step", "whole_s_per_image")}
        entry = {"per_batch_s": split, "s_per_image": split["whole_s_per_image"],
                 "images_per_s": 1 / split["whole_s_per_image"], "sum_of_parts_s_per_image": sum(per_image.values()),
                 "share": {k: v / sum(per_image.values()) for k, v in per_image.items()}}
        if gpu:
            flops = unet_flops(unet_call)
            entry["unet_tflops"] = flops / split["unet_step"] / 1e12
            entry["unet_share_of_bf16_peak"] = entry["unet_tflops"] / result["bf16_matmul_tflops"]
        result["batches"][b] = entry
        save(out_path, result, quiet=True)
        print(f"batch {b}: {entry['images_per_s']:.3f} img/s, shares "
              + ", ".join(f"{k} {v:.1%}" for k, v in entry["share"].items())
              + (f", UNet {entry['unet_tflops']:.0f} TFLOP/s = {entry['unet_share_of_bf16_peak']:.0%} of bf16 peak "
                 f"{result['bf16_matmul_tflops']:.0f}" if gpu else ""), flush=True)
    ok = [b for b in batches if isinstance(result["batches"].get(b), dict)]
    if ok:
        best = max(ok, key=lambda b: result["batches"][b]["images_per_s"])
        result["best_batch"], s_img = best, result["batches"][best]["s_per_image"]
        result["s_per_image"] = s_img
        if "startup" in result:
            start = result["startup"]["process_s"]
            per_class = args.images_per_class * s_img
            need = next(k for k in range(1, 10**6) if start / (start + k * per_class) < 0.05)
            result["classes_per_job_for_5pct_startup"] = need
            result["startup_share_at_1_class"] = start / (start + per_class)
            print(f"start-up {start:.1f} s vs {per_class:.0f} s per class of {args.images_per_class} images: "
                  f"{result['startup_share_at_1_class']:.1%} of a 1-class job; <5% from {need} class(es) per job",
                  flush=True)
        save(out_path, result, quiet=True)
        if args.levers != "none" and time.time() < deadline - 60:
            _, (unet_call, _) = component_split(pipe, args, best, device, dtype)
            result["levers"] = {"batch": best, **levers(pipe, args, best, device, dtype, unet_call, deadline)}
            print(json.dumps(result["levers"], indent=1), flush=True)
    save(out_path, result)


if __name__ == "__main__":
    main()
