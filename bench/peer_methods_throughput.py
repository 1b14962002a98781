"""Training time of the peers' methods at true size (random weights, real shapes), for issue 29 and the estimate:
a CLIP-LoRA step (a batch of shots through the image encoder and every class prompt through the text encoder,
forward and backward, the published rank-2 q/k/v adapters on both encoders) and a DataDream LoRA step (a batch of
shots through SD v1-4's UNet and text encoder with rank-16 adapters, forward and backward, at the generation size),
and a DISEF caption batch (LLaVA-1.5-7B-shaped, random weights in float16: 8 shots at 336 px, 77 new tokens, greedy;
the figure the estimate assumes as ``caption_s_per_image``).

    .venv/bin/python bench/peer_methods_throughput.py --tiny      # CPU smoke run: tiny models, 2 steps
    python bench/peer_methods_throughput.py                        # on a GPU: true sizes, published batch sizes

Each figure is one training call over steps + 1 steps divided by steps + 1 (the adapters' set-up, and DataDream's
VAE encoding of the shots, included; model loading not), and what one job of the paper config then takes: CLIP-LoRA
500 x 16 steps (16 shots), a DataDream LoRA 200 epochs x 2 steps (16 shots, batch 8).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from _bench import device, device_name, parser, save, seconds

from synrec import tiny, true_size
from synrec.clip_lora import train_clip_lora
from synrec.datadream import train_lora
from synrec.datasets import Split
from synrec.models import load_clip, load_text_to_image


def images(n: int, size: int, classes: int = 4) -> Split:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
    return Split(dataset="bench", split="train", labels=np.arange(n) % classes, array=arr)


def clip_lora_step(folder, dev, batch: int, classes: int, steps: int) -> float:
    model, pre, tok = load_clip({"model": f"local-dir:{folder}"}, dev)
    names = [f"class {i}" for i in range(classes)]
    shots = images(batch, 224, classes)
    cfg = {"iters_per_shot": steps + 1, "batch_size": batch}

    def run():
        train_clip_lora(model, tok, pre, shots, np.arange(batch), names, "a photo of a {c}.", cfg, 1, device=dev,
                        progress=False)

    return seconds(run, dev) / (steps + 1)


def datadream_step(folder, dev, batch: int, size: int, steps: int) -> float:
    shots = images(batch, size)
    cfg = {"epochs": steps + 1, "batch_size": batch, "warmup_steps": 0}

    pipe = load_text_to_image({"model": str(folder)}, dev)

    def run():
        train_lora(pipe, [shots.image(i) for i in range(batch)], ["a photo of a dog"] * batch, cfg, size, device=dev,
                   progress=False)

    return seconds(run, dev) / (steps + 1)


#: llava-hf/llava-1.5-7b-hf's config.json: a CLIP ViT-L/14-336 vision tower and a Llama-2-7B (Vicuna) language model
LLAVA_15_7B = {"vision": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                          "num_hidden_layers": 24, "patch_size": 14, "image_size": 336, "projection_dim": 768},
               "text": {"vocab_size": 32064, "hidden_size": 4096, "intermediate_size": 11008,
                        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32,
                        "max_position_embeddings": 4096}}


def caption_batch(dev, batch: int, new_tokens: int, tiny_dir) -> float:
    """Seconds per caption: one greedy batch of ``new_tokens`` tokens each (``min_new_tokens`` too, so random weights
    cannot stop early), after one warm-up batch."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    from synrec.captioning import caption_text, load_captioner

    processor, model = load_captioner({"model": str(tiny.build_tiny_llava(tiny_dir))}, dev)
    size = 32
    if dev.type == "cuda":  # true size: the tiny processor's words, LLaVA-1.5-7B's shapes
        size = LLAVA_15_7B["vision"]["image_size"]
        vision = CLIPVisionConfig(**LLAVA_15_7B["vision"])
        text = LlamaConfig(**LLAVA_15_7B["text"], bos_token_id=1, eos_token_id=2, pad_token_id=3)
        cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=model.config.image_token_index,
                          vision_feature_select_strategy="default", vision_feature_layer=-2)
        with torch.device(dev):
            model = LlavaForConditionalGeneration(cfg).to(torch.float16).eval()
        processor.image_processor.size = {"shortest_edge": size}
        processor.image_processor.crop_size = {"height": size, "width": size}
        processor.patch_size = 14
    pictures = [images(batch, size).image(i) for i in range(batch)]
    texts = [caption_text(processor, "dog", {"query": "Provide a detailed caption, knowing it's a {c}."})] * batch
    enc = processor(images=pictures, text=texts, return_tensors="pt", padding=True)
    enc = {k: (v.to(dev, model.dtype) if v.is_floating_point() else v.to(dev)) for k, v in enc.items()}

    def run():
        with torch.inference_mode():
            model.generate(**enc, do_sample=False, max_new_tokens=new_tokens, min_new_tokens=new_tokens)

    run()
    return seconds(run, dev) / batch


def main() -> None:
    ap = parser(__doc__, out="peer_methods_throughput")
    ap.add_argument("--tiny", action="store_true", help="the tests' tiny models (a CPU smoke run)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 20 on a GPU, 2 on CPU)")
    ap.add_argument("--classes", type=int, default=100, help="class prompts per CLIP-LoRA step")
    args = ap.parse_args()
    dev = device()
    gpu = dev.type == "cuda"
    steps = args.steps or (20 if gpu else 2)
    result = {"device": device_name(dev), "torch": torch.__version__, "tiny": args.tiny, "steps": steps}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("ViT-B-16", "RN50"):
            folder = (tiny.build_tiny_clip(Path(tmp) / name, "ViT" if name.startswith("ViT") else "RN") if args.tiny
                      else true_size.build(name, Path(tmp) / name))
            s = clip_lora_step(folder, dev, 32 if gpu else 4, args.classes if gpu else 4, steps)
            result[f"clip_lora_{name}_s_per_step"] = s
            result[f"clip_lora_{name}_s_per_16shot_job"] = s * 500 * 16
            print(f"CLIP-LoRA {name}: {s:.4f} s per step; 500 x 16 steps: {s * 8000 / 3600:.2f} h", flush=True)
        folder = (tiny.build_tiny_stable_diffusion(Path(tmp) / "sd") if args.tiny
                  else true_size.build("sd", Path(tmp) / "sd"))
        size = 32 if args.tiny else 512
        s = datadream_step(folder, dev, 8 if gpu else 2, size, steps)
        result["datadream_s_per_step"] = s
        result["datadream_s_per_16shot_lora"] = s * 200 * 2
        print(f"DataDream LoRA at {size} px: {s:.4f} s per step; 200 epochs x 2 steps: {s * 400 / 60:.1f} min",
              flush=True)
        save(args.out, result)  # what is measured so far survives a time limit hit by the 7B captioner below
        s = caption_batch(dev, 8 if gpu else 2, 77 if gpu else 4, Path(tmp) / "llava")
        result["caption_s_per_image"] = s
        print(f"DISEF caption ({'LLaVA-1.5-7B shape, fp16' if gpu else 'tiny LLaVA'}): {s:.3f} s per image", flush=True)
    save(args.out, result)


if __name__ == "__main__":
    main()
