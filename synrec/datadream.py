"""DataDream (Kim et al., ECCV 2024): a LoRA on the generator, trained on the few-shot real images, then generation.

DataDream fine-tunes the text-to-image model on the shots before generating from it: LoRA adapters on the UNet's
attention (``to_q``, ``to_k``, ``to_v``, ``to_out.0``) and on the text encoder's attention, trained with the
diffusion loss (the noise, or the velocity for v-prediction models, predicted at a uniformly drawn timestep) on the
shots with the prompt ``a photo of a <class>``. One LoRA per class (``mode: per_class``, DataDream's main setting) or
one for the whole dataset (``per_dataset``). Its published settings are the defaults here: rank 16, alpha 16, the
adapters' A matrices Gaussian-initialised (B zero), AdamW lr 1e-4 (weight decay 1e-2), cosine with 100 warm-up steps,
200 epochs of batch 8, gradient clipping at 1; then 500 images per class at guidance 2.0 (``few_shot.datadream``),
with the per-image seeds of the B and LE images. CLIP is then adapted on the shots plus these images with CLIP-LoRA
(``synrec/clip_lora.py``, method ``clip-lora-DD``), as DataDream does.

Every adapter is peft's, attached through diffusers' and transformers' own ``add_adapter``; :func:`save_lora` writes
them in diffusers' LoRA format (``pytorch_lora_weights.safetensors``), which ``pipe.load_lora_weights`` reads back
here or in any diffusers script. With zero epochs nothing is trained: the pipeline generates what it did before.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .errors import SynrecError

DEFAULTS = {"mode": "per_class", "rank": 16, "alpha": 16, "lr": 1e-4, "weight_decay": 0.01, "warmup_steps": 100,
            "epochs": 200, "batch_size": 8, "max_grad_norm": 1.0, "train_text_encoder": True,
            "unet_targets": ["to_q", "to_k", "to_v", "to_out.0"],
            "text_targets": ["q_proj", "k_proj", "v_proj", "out_proj"], "prompt": "a photo of a {c}"}


def lora_steps(cfg: dict, n_images: int) -> int:
    return int(cfg["epochs"]) * math.ceil(n_images / int(cfg["batch_size"]))


def _pixels(images, size: int) -> torch.Tensor:
    """Shots as the VAE takes them: resized (shorter side) and centre-cropped to ``size``, in [-1, 1]."""
    from torchvision import transforms as T

    tf = T.Compose([T.Resize(size, interpolation=T.InterpolationMode.BILINEAR), T.CenterCrop(size), T.ToTensor(),
                    T.Normalize([0.5], [0.5])])
    return torch.stack([tf(im.convert("RGB")) for im in images])


def _cosine_with_warmup(warmup: int, total: int):
    def f(step):
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
    return f


def add_lora(pipe, cfg: dict) -> list[torch.nn.Parameter]:
    """Attach fresh LoRA adapters to the UNet (and the text encoder); returns the trainable parameters."""
    from peft import LoraConfig

    if not hasattr(pipe, "unet"):
        raise SynrecError(f"DataDream trains a LoRA on a UNet pipeline (SD 1.x/2.x); {type(pipe).__name__} has none")
    pipe.unet.requires_grad_(False)
    pipe.text_encoder.requires_grad_(False)
    pipe.vae.requires_grad_(False)
    lora = {"r": int(cfg["rank"]), "lora_alpha": cfg["alpha"], "init_lora_weights": "gaussian"}
    pipe.unet.add_adapter(LoraConfig(**lora, target_modules=list(cfg["unet_targets"])))
    if cfg["train_text_encoder"]:
        pipe.text_encoder.add_adapter(LoraConfig(**lora, target_modules=list(cfg["text_targets"])))
    towers = [pipe.unet] + ([pipe.text_encoder] if cfg["train_text_encoder"] else [])
    return [p for m in towers for p in m.parameters() if p.requires_grad]


def train_lora(pipe, images, prompts: list[str], cfg: dict, size: int, seed: int = 0, device="cpu",
               progress: bool = True) -> list[dict]:
    """Train DataDream's adapters on ``images`` (PIL) with their ``prompts``; the pipeline keeps them (active) for
    generation. Returns the history (loss per epoch). Zero epochs: nothing is attached."""
    cfg = {**DEFAULTS, **cfg}
    steps = lora_steps(cfg, len(images))
    if steps == 0 or int(cfg["rank"]) == 0:
        return []
    from diffusers import DDPMScheduler

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    params = add_lora(pipe, cfg)
    noise_sched = DDPMScheduler.from_config(pipe.scheduler.config)
    vae, unet, text = pipe.vae, pipe.unet, pipe.text_encoder
    with torch.no_grad():
        dist = vae.encode(_pixels(images, size).to(device, vae.dtype)).latent_dist
        ids = pipe.tokenizer(prompts, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt").input_ids.to(device)
    mean, std = dist.mean.float(), dist.std.float()
    scale = vae.config.scaling_factor
    opt = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _cosine_with_warmup(int(cfg["warmup_steps"]), steps))
    unet.train()
    text.train(cfg["train_text_encoder"])
    n, bs, history = len(images), int(cfg["batch_size"]), []
    per_epoch = math.ceil(n / bs)
    total = 0.0
    for step in tqdm(range(steps), desc="DataDream LoRA", disable=not progress, unit="step"):
        if step % per_epoch == 0:
            order = torch.randperm(n, generator=gen)
        idx = order[(step % per_epoch) * bs:(step % per_epoch + 1) * bs]
        lat = (mean[idx] + std[idx] * torch.randn(mean[idx].shape, generator=gen)) * scale
        noise = torch.randn(lat.shape, generator=gen)
        t = torch.randint(0, noise_sched.config.num_train_timesteps, (len(idx),), generator=gen)
        noisy = noise_sched.add_noise(lat, noise, t)
        target = noise if noise_sched.config.prediction_type == "epsilon" else noise_sched.get_velocity(lat, noise, t)
        with torch.set_grad_enabled(True):
            ehs = text(ids[idx])[0]
            pred = unet(noisy.to(device, unet.dtype), t.to(device), ehs).sample
            loss = F.mse_loss(pred.float(), target.to(device).float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg["max_grad_norm"])
        opt.step()
        sched.step()
        total += float(loss.detach())
        if (step + 1) % per_epoch == 0:
            history.append({"epoch": (step + 1) // per_epoch, "loss": total / per_epoch, "lr": sched.get_last_lr()[0]})
            total = 0.0
    unet.eval()
    text.eval()
    return history


def save_lora(pipe, folder: str | Path) -> None:
    """The pipeline's trained adapters in diffusers' LoRA format (``pytorch_lora_weights.safetensors``)."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    unet = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.unet))
    text = None
    if getattr(pipe.text_encoder, "peft_config", None):
        text = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.text_encoder))
    type(pipe).save_lora_weights(str(folder), unet_lora_layers=unet, text_encoder_lora_layers=text,
                                 safe_serialization=True)


def lora_groups(classnames: list[str], mode: str) -> dict[str, list[int]]:
    """Which classes each LoRA is trained on: one per class (keyed by its index, zero-padded) or one for all."""
    if mode == "per_class":
        return {f"{c:05d}": [c] for c in range(len(classnames))}
    if mode == "per_dataset":
        return {"all": list(range(len(classnames)))}
    raise SynrecError(f"few_shot.datadream.mode: {mode!r}; expected per_class or per_dataset")


def shot_prompts(labels, classnames: list[str], template: str) -> list[str]:
    return [template.replace("{c}", classnames[int(y)]) for y in np.asarray(labels)]


class LoraSwitch:
    """``generate_shard``'s ``adapter``: puts the LoRA of a class (``folders[label]``) on the pipeline, replacing the
    previous one; a folder without LoRA weights (zero epochs) leaves the base generator."""

    def __init__(self, pipe, folders: dict[int, str | Path]):
        self.pipe, self.folders, self.loaded = pipe, {k: Path(v) for k, v in folders.items()}, None

    def __call__(self, label: int) -> None:
        folder = self.folders[label]
        if folder == self.loaded:
            return
        if self.loaded is not None and has_lora(self.loaded):
            self.pipe.unload_lora_weights()
        if has_lora(folder):
            self.pipe.load_lora_weights(str(folder))
        self.loaded = folder


def has_lora(folder: str | Path) -> bool:
    return (Path(folder) / "pytorch_lora_weights.safetensors").is_file()


def lora_folders(root: str | Path, labels: list[int], mode: str) -> dict[int, Path]:
    """Where each class's LoRA lies under a ``datadream_lora`` output: ``<root>/<class index>`` or ``<root>/all``."""
    return {c: Path(root) / (f"{c:05d}" if mode == "per_class" else "all") for c in labels}
