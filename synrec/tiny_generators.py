"""Tiny stand-ins of the text-to-image families after Stable Diffusion 1.x, built from each family's own diffusers
classes and saved in diffusers' folder layout, so the one loader (:func:`synrec.models.load_text_to_image`) and the
whole chain run on them without network:

* ``sdxl``: ``UNet2DConditionModel`` with SDXL's text-time embedding, two CLIP text encoders (the second with a
  projection), Euler sampler;
* ``sd3``: ``SD3Transformer2DModel`` (MMDiT) with CLIP-L, CLIP-G and T5 encoders, flow-matching Euler sampler;
* ``flux``: ``FluxTransformer2DModel``, guidance-distilled (``guidance_embeds``), CLIP-L and T5, flow matching with
  resolution-dependent shift;
* ``pixart``: ``PixArtTransformer2DModel`` (PixArt-Sigma), T5 only, DPM-Solver.

Weights are random: the stand-ins test shapes, wiring and the store, not image quality. All generate 32 x 32 px
images from 8 x 8 latents (a VAE with three resolutions), as the demo's Stable Diffusion does.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import torch

from .tiny import _replace_dir, _staging, clip_bpe_tokenizer

FAMILIES = ("sdxl", "sd3", "flux", "pixart")

#: the families whose diffusers pipeline has an img2img counterpart, so real guidance runs on them
IMG2IMG_FAMILIES = ("sd1", "sdxl", "sd3", "flux")

_CLIP_SPECIAL = {"bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407, "vocab_size": 49408,
                 "max_position_embeddings": 77, "hidden_act": "gelu", "intermediate_size": 64,
                 "num_attention_heads": 2, "num_hidden_layers": 1}

#: words the tiny T5 tokenizer learns: prompt words of the tests and the demo (others are split into pieces)
_T5_WORDS = ("a photo of the an in on with and sketch rendition painting circle square triangle star red green blue "
             "yellow shape class dataset image picture bright dark small large").split()


def _clip_text(hidden: int, projection: int | None = None, seed: int = 0):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    cfg = CLIPTextConfig(hidden_size=hidden, projection_dim=projection or hidden, **_CLIP_SPECIAL)
    return CLIPTextModelWithProjection(cfg) if projection else CLIPTextModel(cfg)


def _t5(folder: Path, d_model: int = 32, seed: int = 0):
    """A tiny ``T5EncoderModel`` and its fast tokenizer (a unigram model trained here on a few words)."""
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import T5Config, T5EncoderModel, T5TokenizerFast

    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator([" ".join(_T5_WORDS)] * 4 + list(_T5_WORDS), vocab_size=100,
                           special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    sp.save(str(folder / "sp.json"))
    tokenizer = T5TokenizerFast(tokenizer_file=str(folder / "sp.json"), pad_token="<pad>", eos_token="</s>",
                                unk_token="<unk>", extra_ids=0)
    torch.manual_seed(seed)
    encoder = T5EncoderModel(T5Config(vocab_size=len(tokenizer), d_model=d_model, d_ff=64, d_kv=8, num_layers=1,
                                      num_heads=4, pad_token_id=tokenizer.pad_token_id,
                                      eos_token_id=tokenizer.eos_token_id))
    return encoder, tokenizer


def _vae(latent_channels: int = 4, seed: int = 0, **flow):
    """32 px <-> 8 x 8 latents; ``flow`` adds SD3/FLUX's ``shift_factor``/``scaling_factor``."""
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 3,
                         up_block_types=("UpDecoderBlock2D",) * 3, block_out_channels=(16, 32, 32),
                         latent_channels=latent_channels, norm_num_groups=8, sample_size=32, **flow)


def tiny_sdxl(folder: Path, seed: int = 0):
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    te1, te2 = _clip_text(32, seed=seed), _clip_text(32, projection=32, seed=seed + 1)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, norm_num_groups=8,
        cross_attention_dim=64,  # the two encoders' hidden states, concatenated
        addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=32 + 6 * 8,  # pooled text + 6 size/crop numbers
    )
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    tok = clip_bpe_tokenizer(folder)
    return StableDiffusionXLPipeline(vae=_vae(seed=seed), text_encoder=te1, text_encoder_2=te2, tokenizer=tok,
                                     tokenizer_2=tok, unet=unet, scheduler=scheduler)


def tiny_sd3(folder: Path, seed: int = 0):
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline

    te1, te2 = _clip_text(16, projection=16, seed=seed), _clip_text(16, projection=16, seed=seed + 1)
    te3, tok3 = _t5(folder, d_model=32, seed=seed + 2)
    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(
        sample_size=8, patch_size=2, in_channels=4, out_channels=4, num_layers=1, attention_head_dim=8,
        num_attention_heads=2, caption_projection_dim=16,
        joint_attention_dim=32,  # T5's width (the CLIP pair, 16 + 16, is padded to it)
        pooled_projection_dim=32,  # the two pooled CLIP projections, 16 + 16
        pos_embed_max_size=8,
    )
    tok = clip_bpe_tokenizer(folder)
    return StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=_vae(seed=seed, shift_factor=0.0609, scaling_factor=1.5305), text_encoder=te1, tokenizer=tok,
        text_encoder_2=te2, tokenizer_2=tok, text_encoder_3=te3, tokenizer_3=tok3)


def tiny_flux(folder: Path, seed: int = 0):
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    te1 = _clip_text(16, seed=seed)
    te2, tok2 = _t5(folder, d_model=32, seed=seed + 1)
    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, out_channels=None,  # 2 x 2 patches of 4 latent channels, packed
        num_layers=1, num_single_layers=1, attention_head_dim=16, num_attention_heads=2,
        joint_attention_dim=32, pooled_projection_dim=16, guidance_embeds=True, axes_dims_rope=(4, 6, 6),
    )
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0, use_dynamic_shifting=True, base_shift=0.5,
                                                max_shift=1.15, base_image_seq_len=16, max_image_seq_len=256)
    return FluxPipeline(scheduler=scheduler, vae=_vae(seed=seed, shift_factor=0.1159, scaling_factor=0.3611),
                        text_encoder=te1, tokenizer=clip_bpe_tokenizer(folder), text_encoder_2=te2,
                        tokenizer_2=tok2, transformer=transformer)


def tiny_pixart(folder: Path, seed: int = 0):
    from diffusers import DPMSolverMultistepScheduler, PixArtSigmaPipeline, PixArtTransformer2DModel

    te, tok = _t5(folder, d_model=32, seed=seed + 1)
    torch.manual_seed(seed)
    transformer = PixArtTransformer2DModel(
        sample_size=8, patch_size=2, in_channels=4, out_channels=8,  # learned variance: 2 x latent channels
        num_layers=1, attention_head_dim=8, num_attention_heads=2, cross_attention_dim=16, caption_channels=32,
        norm_type="ada_norm_single", norm_elementwise_affine=False, norm_eps=1e-6, use_additional_conditions=False,
    )
    scheduler = DPMSolverMultistepScheduler(beta_start=0.0001, beta_end=0.02, beta_schedule="linear")
    return PixArtSigmaPipeline(tokenizer=tok, text_encoder=te, vae=_vae(seed=seed), transformer=transformer,
                               scheduler=scheduler)


_BUILDERS = {"sdxl": tiny_sdxl, "sd3": tiny_sd3, "flux": tiny_flux, "pixart": tiny_pixart}


def build_tiny_generator(out_dir: str | Path, family: str, seed: int = 0) -> Path:
    """Write a random-weight tiny pipeline of ``family`` (one of :data:`FAMILIES`) in diffusers' folder layout."""
    if family not in _BUILDERS:
        raise ValueError(f"unknown generator family {family!r}; expected one of {', '.join(FAMILIES)}")
    out, tmp = _staging(out_dir)
    scratch = tmp / "_scratch"
    scratch.mkdir()
    pipe = _BUILDERS[family](scratch, seed)
    pipe.save_pretrained(str(tmp))
    shutil.rmtree(scratch)
    _replace_dir(tmp, out)
    return out


#: The denoisers of the true-size checkpoints, from their published ``config.json`` files: built on the meta device
#: (no memory, no download) to count their parameters, which the cost estimate scales by.
TRUE_SIZE_DENOISERS = {
    "sdxl": ("UNet2DConditionModel", {  # stabilityai/stable-diffusion-xl-base-1.0/unet
        "sample_size": 128, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
        "block_out_channels": (320, 640, 1280), "transformer_layers_per_block": (1, 2, 10),
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        "attention_head_dim": (5, 10, 20), "cross_attention_dim": 2048, "use_linear_projection": True,
        "addition_embed_type": "text_time", "addition_time_embed_dim": 256,
        "projection_class_embeddings_input_dim": 2816}),
    "sd3": ("SD3Transformer2DModel", {  # stabilityai/stable-diffusion-3-medium-diffusers/transformer
        "sample_size": 128, "patch_size": 2, "in_channels": 16, "out_channels": 16, "num_layers": 24,
        "attention_head_dim": 64, "num_attention_heads": 24, "joint_attention_dim": 4096,
        "caption_projection_dim": 1536, "pooled_projection_dim": 2048, "pos_embed_max_size": 192}),
    "flux": ("FluxTransformer2DModel", {  # black-forest-labs/FLUX.1-dev/transformer
        "patch_size": 1, "in_channels": 64, "num_layers": 19, "num_single_layers": 38, "attention_head_dim": 128,
        "num_attention_heads": 24, "joint_attention_dim": 4096, "pooled_projection_dim": 768,
        "guidance_embeds": True, "axes_dims_rope": (16, 56, 56)}),
    "pixart": ("PixArtTransformer2DModel", {  # PixArt-alpha/PixArt-Sigma-XL-2-1024-MS/transformer
        "sample_size": 128, "patch_size": 2, "in_channels": 4, "out_channels": 8, "num_layers": 28,
        "attention_head_dim": 72, "num_attention_heads": 16, "cross_attention_dim": 1152, "caption_channels": 4096,
        "norm_type": "ada_norm_single", "norm_elementwise_affine": False, "norm_eps": 1e-6,
        "use_additional_conditions": False}),
}


def true_size_parameters(family: str) -> int:
    """Parameters of a true-size family's denoiser, counted on the meta device."""
    import diffusers

    cls_name, cfg = TRUE_SIZE_DENOISERS[family]
    with torch.device("meta"):
        model = getattr(diffusers, cls_name)(**cfg)
    return sum(p.numel() for p in model.parameters())


#: text tokens each family's denoiser attends to by default (CLIP 77; SD3 CLIP + 256 T5; FLUX.1-dev 512 T5;
#: PixArt-Sigma 300 T5) and whether a step runs the denoiser twice (classifier-free guidance; FLUX.1 is
#: guidance-distilled: once)
FAMILY_TEXT = {"sd1": (77, True), "sdxl": (77, True), "sd3": (333, True), "flux": (512, False), "pixart": (300, True)}


@functools.lru_cache(maxsize=None)
def denoiser_tflops(family: str, height: int, width: int, text_tokens: int | None = None) -> float:
    """TFLOP of one true-size denoiser forward for one image at ``height`` x ``width`` px (torch's FlopCounterMode on
    the meta device: matmuls, convolutions and attention)."""
    import diffusers
    from torch.utils.flop_counter import FlopCounterMode

    from .true_size import SD_V1_UNET

    tokens = text_tokens or FAMILY_TEXT[family][0]
    h, w = height // 8, width // 8
    cls_name, cfg = ("UNet2DConditionModel", SD_V1_UNET) if family == "sd1" else TRUE_SIZE_DENOISERS[family]
    with torch.device("meta"):
        model = getattr(diffusers, cls_name)(**cfg)
        t = torch.tensor([500.0])
        if family == "sd1":
            inputs = {"sample": torch.randn(1, 4, h, w), "timestep": t,
                      "encoder_hidden_states": torch.randn(1, tokens, 768)}
        elif family == "sdxl":
            inputs = {"sample": torch.randn(1, 4, h, w), "timestep": t,
                      "encoder_hidden_states": torch.randn(1, tokens, 2048),
                      "added_cond_kwargs": {"text_embeds": torch.randn(1, 1280), "time_ids": torch.randn(1, 6)}}
        elif family == "sd3":
            inputs = {"hidden_states": torch.randn(1, 16, h, w), "encoder_hidden_states": torch.randn(1, tokens, 4096),
                      "pooled_projections": torch.randn(1, 2048), "timestep": t}
        elif family == "flux":
            n = (h // 2) * (w // 2)  # 2 x 2 latent patches, packed
            inputs = {"hidden_states": torch.randn(1, n, 64), "encoder_hidden_states": torch.randn(1, tokens, 4096),
                      "pooled_projections": torch.randn(1, 768), "timestep": t / 1000, "guidance": torch.ones(1),
                      "img_ids": torch.zeros(n, 3), "txt_ids": torch.zeros(tokens, 3)}
        else:
            inputs = {"hidden_states": torch.randn(1, 4, h, w), "encoder_hidden_states": torch.randn(1, tokens, 4096),
                      "timestep": t, "added_cond_kwargs": {"resolution": None, "aspect_ratio": None}}
        with FlopCounterMode(display=False) as counter:
            model(**inputs)
    return counter.get_total_flops() / 1e12


#: diffusers pipeline class -> family (what model_index.json's ``_class_name`` says)
PIPELINE_FAMILY = {"StableDiffusionPipeline": "sd1", "StableDiffusionXLPipeline": "sdxl",
                   "StableDiffusion3Pipeline": "sd3", "FluxPipeline": "flux", "PixArtSigmaPipeline": "pixart",
                   "PixArtAlphaPipeline": "pixart"}


def family_of(spec: dict) -> str | None:
    """A generator's family: its spec's ``family``, else its ``model_index.json`` (a local folder or the Hugging
    Face cache); None when neither says."""
    import json

    if spec.get("family"):
        return spec["family"]
    from .models import local_model_path

    local = local_model_path(spec)
    index = Path(local) / "model_index.json" if local else None
    if index is None:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(spec["model"], "model_index.json")
        index = Path(cached) if isinstance(cached, str) else None
    if index is None or not index.is_file():
        return None
    return PIPELINE_FAMILY.get(json.loads(index.read_text()).get("_class_name"))
