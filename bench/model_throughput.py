"""Throughput of the other two true-size models of the chain (random weights, real shapes), for the cost estimate:
CLIP RN50 and ViT-B/16 image features (images/s, the feature rule's batch and precision), and the t5-base
word-to-sentence model's language enhancement (seconds per class: 250 samples, top-k 50, up to 20 tokens).

    .venv/bin/python bench/model_throughput.py --out bench/results/local/model_throughput.json   # CPU: small batches
    python bench/model_throughput.py                                                        # on a GPU

The CLIP figure is the model alone on preprocessed batches (decode and resize are the data loader's: see
bench/decode_throughput.py for a core's rate).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from _bench import device, device_name, parser, per_second, save, seconds, sync

from synrec import true_size
from synrec.features import _autocast
from synrec.models import load_clip, load_word_to_sentence
from synrec.prompts import enhance_class


def clip_rate(folder, dev, batch, steps, dtype):
    model, _, _ = load_clip({"model": f"local-dir:{folder}"}, dev)
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    x = torch.randn(batch, 3, size, size, device=dev)
    with torch.no_grad(), _autocast(dev, dtype if dev.type == "cuda" else "float32"):
        return per_second(lambda: model.encode_image(x), batch, steps, dev, warmup=1)


def main() -> None:
    ap = parser(__doc__, out="model_throughput")
    ap.add_argument("--batch", type=int, default=None, help="default: 256 on a GPU (the config's), 16 on CPU")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--dtype", default="float16")
    ap.add_argument("--sentences", type=int, default=200)
    args = ap.parse_args()
    dev = device()
    gpu = dev.type == "cuda"
    batch, steps = args.batch or (256 if gpu else 16), args.steps or (10 if gpu else 2)
    result = {"device": device_name(dev),
              "torch": torch.__version__, "clip_batch": batch, "clip_dtype": args.dtype if gpu else "float32"}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("RN50", "ViT-B-16"):
            folder = true_size.build(name, Path(tmp) / name)
            result[f"clip_{name}_images_per_s"] = clip_rate(folder, dev, batch, steps, args.dtype)
            print(f"CLIP {name}: {result[f'clip_{name}_images_per_s']:.0f} img/s", flush=True)
        folder = true_size.build("t5", Path(tmp) / "t5")
        tok, model = load_word_to_sentence({"model": str(folder)}, dev)
        enhance_class(tok, model, "dog", 4, seed=0, extra=4)  # warm-up
        sync(dev)
        result["le_s_per_class"] = seconds(lambda: enhance_class(
            tok, model, "golden retriever", args.sentences, seed=1, extra=50, max_rounds=1, top_k=50, max_length=20,
            batch_size=64), dev)
        print(f"LE (t5-base, {args.sentences} + 50 samples): {result['le_s_per_class']:.2f} s per class", flush=True)
    save(args.out, result)


if __name__ == "__main__":
    main()
