"""Throughput of the other two true-size models of the chain (random weights, real shapes), for the cost estimate:
CLIP RN50 and ViT-B/16 image features (images/s, the feature rule's batch and precision), and the t5-base
word-to-sentence model's language enhancement (seconds per class: 250 samples, top-k 50, up to 20 tokens).

    .venv/bin/python bench/model_throughput.py --out bench/results/local/model_throughput.json   # CPU: small batches
    python bench/model_throughput.py                                                        # on a GPU

The CLIP figure is the model alone on preprocessed batches (decode and resize are the data loader's: see
bench/decode_throughput.py for a core's rate).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synrec import true_size  # noqa: E402
from synrec.features import _autocast  # noqa: E402
from synrec.models import load_clip, load_word_to_sentence  # noqa: E402
from synrec.prompts import enhance_class  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def clip_rate(folder, device, batch, steps, dtype):
    model, _, _ = load_clip({"model": f"local-dir:{folder}"}, device)
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    x = torch.randn(batch, 3, size, size, device=device)
    with torch.no_grad(), _autocast(device, dtype if device.type == "cuda" else "float32"):
        model.encode_image(x)
        sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            model.encode_image(x)
        sync(device)
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=None, help="default: 256 on a GPU (the config's), 16 on CPU")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--dtype", default="float16")
    ap.add_argument("--sentences", type=int, default=200)
    ap.add_argument("--out", default="bench/results/local/model_throughput.json")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.type == "cuda"
    batch, steps = args.batch or (256 if gpu else 16), args.steps or (10 if gpu else 2)
    result = {"device": torch.cuda.get_device_name() if gpu else f"CPU ({torch.get_num_threads()} threads)",
              "torch": torch.__version__, "clip_batch": batch, "clip_dtype": args.dtype if gpu else "float32"}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("RN50", "ViT-B-16"):
            folder = true_size.build(name, Path(tmp) / name)
            result[f"clip_{name}_images_per_s"] = clip_rate(folder, device, batch, steps, args.dtype)
            print(f"CLIP {name}: {result[f'clip_{name}_images_per_s']:.0f} img/s", flush=True)
        folder = true_size.build("t5", Path(tmp) / "t5")
        tok, model = load_word_to_sentence({"model": str(folder)}, device)
        enhance_class(tok, model, "dog", 4, seed=0, extra=4)  # warm-up
        sync(device)
        t0 = time.perf_counter()
        enhance_class(tok, model, "golden retriever", args.sentences, seed=1, extra=50, max_rounds=1, top_k=50,
                      max_length=20, batch_size=64)
        sync(device)
        result["le_s_per_class"] = time.perf_counter() - t0
        print(f"LE (t5-base, {args.sentences} + 50 samples): {result['le_s_per_class']:.2f} s per class", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
