"""Demo models that have learned a little: the tiny CLIPs, Stable Diffusion and T5 of :mod:`synrec.tiny`, trained
briefly on the drawn world of :mod:`synrec.demo_data`, then saved in each library's own format so the workflow loads
them through the same code paths as real weights.

* **CLIP** (RN and ViT): open_clip's own contrastive loss (``ClipLoss``) on pictures in the *CLIP-world* style
  (plain bright backgrounds, exact colours, large shapes) with captions over the world's whole vocabulary
  (8 colours x 4 shapes, several templates). The demo datasets' test pictures are in the *photo* style (dark noisy
  backgrounds, smaller shapes, jittered colours): the domain gap keeps zero-shot above chance but below ceiling.
* **Stable Diffusion**: the VAE learns to reconstruct photo-style pictures; the UNet learns to denoise their latents
  conditioned on captions (10 % dropped, for classifier-free guidance). Its text encoder starts as the demo CLIP-RN's
  text tower (Stable Diffusion conditions on a CLIP text tower) converted to transformers' ``CLIPTextModel``, and is
  trained with the UNet: a 1-layer tower kept frozen gave the UNet too little colour signal.
  So the generator draws the prompted colour and shape in the test pictures' style, as the paper's generator knows
  the look of real photographs that its CLIP filter and classifier are tested on.
* **T5** word-to-sentence: keyword -> sentence pairs (``"red circle" -> "a red circle on a dark table."``), so LE
  prompts are sentences that name the class.

Everything is seeded. Sizes and step counts are the demo's (a few minutes on 2 CPU cores in all); nothing here is a
paper number.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import demo_data, tiny

#: Caption templates of the CLIP world (wider than any dataset's templates).
CAPTIONS = ["a photo of a {}.", "a drawing of a {}.", "a {}.", "a picture of a {}.", "{}", "a small {}.",
            "a big {}.", "a photo of the {}."]
#: Sentence templates the T5 learns to write around a keyword (the LE prompts of the demo).
SENTENCES = ["a {} on a dark table.", "a photo of a {} at night.", "the {} in the dark room.",
             "a small {} on the floor.", "a {} lying on the dark ground.", "a bright {} in a dark field.",
             "a close photo of a {}.", "a {} next to the wall."]


@contextlib.contextmanager
def _staged(out_dir: str | Path):
    """Build and train in ``<out>.train``, then rename onto ``out``: a killed job leaves no half-trained model."""
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".train")
    shutil.rmtree(tmp, ignore_errors=True)
    yield tmp
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def _world_names() -> list[str]:
    return [f"{c} {s}" for c in demo_data.COLOURS for s in demo_data.SHAPES]


def _world_batch(rng: np.random.Generator, batch: int, draw, size: int = 32):
    """``batch`` pictures of random world names drawn by ``draw`` (a demo_data style), with random captions."""
    names = _world_names()
    picks = rng.integers(len(names), size=batch)
    images = np.stack([draw(names[i], size, rng) for i in picks])
    captions = [CAPTIONS[rng.integers(len(CAPTIONS))].format(names[i]) for i in picks]
    return images, captions


def _to_clip_input(images: np.ndarray, image_size: int, mean, std) -> torch.Tensor:
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    x = F.interpolate(x, size=image_size, mode="bicubic", align_corners=False)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def train_demo_clip(out_dir: str | Path, arch: str = "RN", seed: int = 0, steps: int = 300, batch: int = 64,
                    lr: float = 1e-3, progress=None) -> Path:
    """Build the tiny CLIP (``arch`` RN or ViT), train it contrastively on the CLIP world, save it in open_clip's
    ``local-dir:`` format (the same files :func:`synrec.tiny.build_tiny_clip` writes)."""
    with _staged(out_dir) as tmp:
        _train_clip(tiny.build_tiny_clip(tmp, arch, seed), seed, steps, batch, lr, progress)
    return Path(out_dir)


def _train_clip(out: Path, seed: int, steps: int, batch: int, lr: float, progress) -> None:
    import open_clip
    import safetensors.torch
    from open_clip.loss import ClipLoss

    model, _, _ = open_clip.create_model_and_transforms(f"local-dir:{out}")
    tokenizer = open_clip.get_tokenizer(f"local-dir:{out}")
    cfg = json.loads((out / "open_clip_config.json").read_text())
    mean, std = cfg["preprocess_cfg"]["mean"], cfg["preprocess_cfg"]["std"]
    size = cfg["model_cfg"]["vision_cfg"]["image_size"]
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    loss_fn = ClipLoss()
    model.train()
    for step in range(steps):
        images, captions = _world_batch(rng, batch, demo_data.draw_clip_world)
        image_f, text_f, scale = model(_to_clip_input(images, size, mean, std), tokenizer(captions))
        loss = loss_fn(image_f, text_f, scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if progress:
            progress(step, loss.item())
    safetensors.torch.save_file(model.state_dict(), str(out / "open_clip_model.safetensors"))


def clip_text_to_transformers(clip_model):
    """open_clip's text tower (token + position embeddings, causal transformer, final LayerNorm) as a transformers
    ``CLIPTextModel`` with the same weights: its ``last_hidden_state`` equals the tower's output before pooling."""
    from transformers import CLIPTextConfig, CLIPTextModel

    width = clip_model.token_embedding.weight.shape[1]
    blocks = clip_model.transformer.resblocks
    config = CLIPTextConfig(
        vocab_size=clip_model.token_embedding.weight.shape[0],
        max_position_embeddings=clip_model.positional_embedding.shape[0],
        hidden_size=width,
        intermediate_size=blocks[0].mlp.c_fc.out_features,
        num_attention_heads=blocks[0].attn.num_heads,
        num_hidden_layers=len(blocks),
        hidden_act="gelu",
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )
    hf = CLIPTextModel(config)
    sd = {
        "embeddings.token_embedding.weight": clip_model.token_embedding.weight,
        "embeddings.position_embedding.weight": clip_model.positional_embedding,
        "final_layer_norm.weight": clip_model.ln_final.weight,
        "final_layer_norm.bias": clip_model.ln_final.bias,
    }
    for i, blk in enumerate(blocks):
        pre = f"encoder.layers.{i}."
        q, k, v = blk.attn.in_proj_weight.chunk(3)
        qb, kb, vb = blk.attn.in_proj_bias.chunk(3)
        sd.update({
            pre + "self_attn.q_proj.weight": q, pre + "self_attn.q_proj.bias": qb,
            pre + "self_attn.k_proj.weight": k, pre + "self_attn.k_proj.bias": kb,
            pre + "self_attn.v_proj.weight": v, pre + "self_attn.v_proj.bias": vb,
            pre + "self_attn.out_proj.weight": blk.attn.out_proj.weight,
            pre + "self_attn.out_proj.bias": blk.attn.out_proj.bias,
            pre + "layer_norm1.weight": blk.ln_1.weight, pre + "layer_norm1.bias": blk.ln_1.bias,
            pre + "layer_norm2.weight": blk.ln_2.weight, pre + "layer_norm2.bias": blk.ln_2.bias,
            pre + "mlp.fc1.weight": blk.mlp.c_fc.weight, pre + "mlp.fc1.bias": blk.mlp.c_fc.bias,
            pre + "mlp.fc2.weight": blk.mlp.c_proj.weight, pre + "mlp.fc2.bias": blk.mlp.c_proj.bias,
        })
    missing, unexpected = hf.load_state_dict({k: v.detach().clone() for k, v in sd.items()}, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"text tower conversion: missing {missing}, unexpected {unexpected}")
    return hf.eval()


def _photo_batch(rng: np.random.Generator, batch: int):
    """Photo-style pictures as Stable Diffusion's input range [-1, 1], with their captions."""
    images, captions = _world_batch(rng, batch, demo_data.draw_shape)
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1, captions


def train_demo_stable_diffusion(out_dir: str | Path, clip_dir: str | Path, seed: int = 0, vae_steps: int = 200,
                                unet_steps: int = 600, batch: int = 32, lr: float = 2e-3, vae_lr: float = 1e-3,
                                progress=None) -> Path:
    """Train the tiny Stable Diffusion on photo-style pictures (the VAE, then the UNet with the text encoder that
    starts as the demo CLIP's text tower) and save it as a diffusers pipeline folder."""
    import tempfile

    import open_clip
    from diffusers import DDPMScheduler

    rng = np.random.default_rng(seed)
    parts = tiny.tiny_stable_diffusion_parts(seed)
    clip, _, _ = open_clip.create_model_and_transforms(f"local-dir:{clip_dir}")
    parts["text_encoder"] = clip_text_to_transformers(clip)
    vae, unet, text_encoder = parts["vae"], parts["unet"], parts["text_encoder"]

    torch.manual_seed(seed)
    opt = torch.optim.AdamW(vae.parameters(), lr=vae_lr)
    vae.train()
    for step in range(vae_steps):
        x, _ = _photo_batch(rng, batch)
        posterior = vae.encode(x).latent_dist
        loss = F.mse_loss(vae.decode(posterior.sample()).sample, x) + 1e-6 * posterior.kl().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if progress:
            progress("vae", step, loss.item())
    vae.eval().requires_grad_(False)
    with torch.no_grad():  # Stable Diffusion's latent scaling: unit variance
        scale = float(1 / vae.encode(_photo_batch(rng, 256)[0]).latent_dist.sample().std())
    vae.register_to_config(scaling_factor=scale)

    with tempfile.TemporaryDirectory() as folder:  # the tokenizer the saved pipeline gets
        tokenizer = tiny.clip_bpe_tokenizer(Path(folder))
    noise_sched = DDPMScheduler.from_config(parts["scheduler"].config)
    opt = torch.optim.AdamW([*unet.parameters(), *text_encoder.parameters()], lr=lr)
    unet.train()
    text_encoder.train()
    for step in range(unet_steps):
        x, captions = _photo_batch(rng, batch)
        captions = [c if rng.random() >= 0.1 else "" for c in captions]  # unconditional share, for guidance
        ids = tokenizer(captions, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        with torch.no_grad():
            latents = vae.encode(x).latent_dist.sample() * scale
        cond = text_encoder(ids)[0]
        noise = torch.randn_like(latents)
        t = torch.randint(0, noise_sched.config.num_train_timesteps, (len(latents),))
        loss = F.mse_loss(unet(noise_sched.add_noise(latents, noise, t), t, cond).sample, noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if progress:
            progress("unet", step, loss.item())
    unet.eval()
    text_encoder.eval()
    with _staged(out_dir) as tmp:
        tiny.build_tiny_stable_diffusion(tmp, seed, parts=parts)
    return Path(out_dir)


def _fit(model, loss, steps: int, lr: float, progress=None) -> None:
    """The supervised loop of the transformers demo models (T5, captioner): AdamW on ``loss(step)`` for ``steps``
    steps, then eval mode."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        value = loss(step)
        opt.zero_grad()
        value.backward()
        opt.step()
        if progress:
            progress(step, value.item())
    model.eval()


def _sentence_pairs(names: list[str]) -> list[tuple[str, str]]:
    return [(name, s.format(name)) for name in names for s in SENTENCES]


def train_demo_t5(out_dir: str | Path, words: list[str] = (), seed: int = 0, steps: int = 300, batch: int = 32,
                  lr: float = 3e-3, progress=None) -> Path:
    """Train the tiny T5 to write a sentence around each of the world's names, then save it with its tokenizer
    (``AutoModelForSeq2SeqLM`` / ``AutoTokenizer`` loadable); ``words`` (the world's class-name words,
    :data:`synrec.demo_data.WORLD_WORDS`) join the tokenizer's vocabulary."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    names = sorted(set(_world_names()))
    sentence_words = sorted({w.strip(".") for s in SENTENCES for w in s.split()} - {"{}"})
    with _staged(out_dir) as tmp:
        tiny.build_tiny_t5(tmp, extra_words=[*words, *sentence_words, *demo_data.COLOURS, *demo_data.SHAPES],
                           seed=seed, vocab_size=200)
        tok = AutoTokenizer.from_pretrained(tmp)
        model = AutoModelForSeq2SeqLM.from_pretrained(tmp)
        pairs = _sentence_pairs(names)
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)

        def loss(_step):
            pick = [pairs[i] for i in rng.integers(len(pairs), size=batch)]
            enc = tok([k for k, _ in pick], return_tensors="pt", padding=True)
            labels = tok([s for _, s in pick], return_tensors="pt", padding=True).input_ids
            labels[labels == tok.pad_token_id] = -100
            return model(**enc, labels=labels).loss

        _fit(model, loss, steps, lr, progress)
        model.save_pretrained(tmp)
    return Path(out_dir)


#: what the demo captioner learns to say after its prefix (synrec.captioning: "a picture of a <class>,")
CAPTION_TAIL = "a {} on a dark background."
NEUTRAL_PREFIX = "a picture of a shape,"


def train_demo_captioner(out_dir: str | Path, seed: int = 0, steps: int = 300, batch: int = 32, lr: float = 3e-3,
                         progress=None) -> Path:
    """Train the tiny BLIP captioner (:func:`synrec.tiny.build_tiny_captioner`) on photo-style pictures of the
    world's names: prefix ``a picture of a <name>,`` (or, for half of them, the neutral ``a picture of a shape,``)
    then a description naming what is drawn, so DISEF's captions of the demo shots name the shape and colour they
    see."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from .captioning import DEFAULTS

    names = _world_names()
    with _staged(out_dir) as tmp:
        tiny.build_tiny_captioner(tmp, extra_words=names, seed=seed)
        processor = AutoProcessor.from_pretrained(tmp)
        model = AutoModelForImageTextToText.from_pretrained(tmp)
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)

        def loss(_step):
            picks = rng.integers(len(names), size=batch)
            images = [demo_data.draw_shape(names[i], 32, rng) for i in picks]
            # half the captions start from a neutral prefix, so the description is read from the picture (not
            # copied from the class name the prefix gives)
            texts = [f"{(DEFAULTS['prefix'] if k % 2 else NEUTRAL_PREFIX).replace('{c}', names[i])} "
                     f"{CAPTION_TAIL.format(names[i])}" for k, i in enumerate(picks)]
            enc = processor(images=images, text=texts, return_tensors="pt", padding=True)
            return model(**enc, labels=enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)).loss

        _fit(model, loss, steps, lr, progress)
        model.save_pretrained(tmp)
    return Path(out_dir)
