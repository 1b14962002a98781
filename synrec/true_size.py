"""Random-weight models at the paper's true sizes, in each library's own format: shapes, memory and speed, offline.

Throughput does not depend on what the weights are, so these stand-ins measure what a real run will cost without a
download. Each is built from its library's own classes with the real checkpoint's configuration and saved where the
workflow's loaders read it (:mod:`synrec.models`):

* ``RN50`` and ``ViT-B-16``: open_clip's own model configs (``open_clip.get_model_config``), OpenAI's QuickGELU, as
  ``local-dir:`` folders;
* ``sd``: a Stable Diffusion v1-4-shaped diffusers pipeline: the UNet (860 M numbers stored, 64 x 64 latents), the KL
  autoencoder (512 px), a CLIP ViT-L/14 text encoder, the PNDM sampler of v1-4's ``scheduler_config.json`` and its
  safety checker (a CLIP ViT-L/14 vision tower), saved in float16 (the ``fp16`` variant's size on disk);
* ``t5``: a t5-base-shaped seq2seq model (the paper's ``mrm8488/t5-base-finetuned-common_gen``).

    python -m synrec.true_size resources/true-size            # all four; --only sd,t5 for some

Point a config at them (``models.text_to_image.model: resources/true-size/stable-diffusion``, ``models.clip.RN50:
{model: "local-dir:resources/true-size/clip-RN50"}``) to dry-run the chain at true size; the benchmarks under
``bench/`` build what they need themselves.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

from . import tiny

#: CompVis/stable-diffusion-v1-4's unet/config.json, vae/config.json and scheduler/scheduler_config.json
SD_V1_UNET = {
    "sample_size": 64, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280), "cross_attention_dim": 768, "attention_head_dim": 8,
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "norm_num_groups": 32,
}
SD_V1_VAE = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2, "sample_size": 512,
    "block_out_channels": (128, 256, 512, 512), "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4, "norm_num_groups": 32,
}
SD_V1_SCHEDULER = {
    "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
    "skip_prk_steps": True, "steps_offset": 1, "set_alpha_to_one": False,
}
#: openai/clip-vit-large-patch14: SD v1's text encoder and its safety checker's vision tower
CLIP_L14_TEXT = {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
                 "hidden_act": "quick_gelu", "projection_dim": 768}
CLIP_L14_VISION = {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                   "num_hidden_layers": 24, "patch_size": 14, "image_size": 224, "hidden_act": "quick_gelu"}
#: t5-base (mrm8488/t5-base-finetuned-common_gen's config.json)
T5_BASE = {"vocab_size": 32128, "d_model": 768, "d_ff": 3072, "d_kv": 64, "num_layers": 12,
           "num_decoder_layers": 12, "num_heads": 12, "feed_forward_proj": "relu"}

MODELS = ("RN50", "ViT-B-16", "sd", "t5")
FOLDERS = {"RN50": "clip-RN50", "ViT-B-16": "clip-ViT-B-16", "sd": "stable-diffusion", "t5": "t5-base"}


def stable_diffusion_parts(seed: int = 0, dtype: torch.dtype = torch.float32) -> dict:
    """SD v1-4-shaped UNet, VAE, text encoder and PNDM sampler with random weights."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    text = CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407,
                          pad_token_id=49407, **CLIP_L14_TEXT)
    return {"unet": UNet2DConditionModel(**SD_V1_UNET).to(dtype), "vae": AutoencoderKL(**SD_V1_VAE).to(dtype),
            "text_encoder": CLIPTextModel(text).to(dtype), "scheduler": PNDMScheduler(**SD_V1_SCHEDULER)}


def safety_checker(seed: int = 0, dtype: torch.dtype = torch.float32):
    """``(StableDiffusionSafetyChecker, CLIPImageProcessor)`` of SD v1's shape (CLIP ViT-L/14 vision tower)."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(seed)
    cfg = CLIPConfig(text_config=CLIP_L14_TEXT, vision_config=CLIP_L14_VISION, projection_dim=768)
    return StableDiffusionSafetyChecker(cfg).to(dtype).eval(), CLIPImageProcessor()


def open_clip_config(name: str) -> dict:
    """open_clip's own config of ``name``, with OpenAI's QuickGELU (what the ``openai`` weights were trained with)."""
    import open_clip

    cfg = open_clip.get_model_config(name)
    if cfg is None:
        raise ValueError(f"{name!r} is not an open_clip model config")
    return {**cfg, "quick_gelu": True}


def build(name: str, out_dir: str | Path, seed: int = 0) -> Path:
    """Write the true-size stand-in ``name`` (one of :data:`MODELS`) to ``out_dir``."""
    if name in ("RN50", "ViT-B-16"):
        return tiny.write_open_clip(out_dir, open_clip_config(name), seed)
    if name == "sd":
        half = torch.float16
        return tiny.write_stable_diffusion(out_dir, stable_diffusion_parts(seed, half), safety_checker(seed, half))
    if name == "t5":
        return tiny.build_tiny_t5(out_dir, seed=seed, shape=T5_BASE)
    raise ValueError(f"unknown true-size model {name!r}; expected one of {MODELS}")


def n_parameters(folder: str | Path) -> int:
    """Numbers stored under ``folder`` (every safetensors file: parameters and buffers such as BN statistics)."""
    from safetensors import safe_open

    total = 0
    for f in Path(folder).rglob("*.safetensors"):
        with safe_open(str(f), "pt") as fh:
            total += sum(math.prod(fh.get_slice(k).get_shape()) for k in fh.keys())
    return total


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="folder to write the models under (one sub-folder each)")
    ap.add_argument("--only", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    names = args.only.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        sys.exit(f"synrec: --only: unknown model {unknown[0]!r}; expected some of {','.join(MODELS)}")
    for name in names:
        t0 = time.perf_counter()
        folder = build(name, Path(args.out) / FOLDERS[name], args.seed)
        print(f"{name}: {folder} ({n_parameters(folder) / 1e6:.0f} M numbers stored, {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
