"""CLIP-LoRA (Zanella and Ben Ayed, CVPR Workshops 2024): low-rank adapters on the attention of both CLIP encoders.

The published recipe (the defaults of ``few_shot.clip_lora``): rank 2, alpha 1 with the scaling alpha/sqrt(rank),
dropout 0.25 before each adapter, on the query, key and value matrices of every transformer block of the image and
the text encoder; AdamW (lr 2e-4, weight decay 1e-2, betas 0.9/0.999), cosine annealing to 1e-6 over
``iters_per_shot x shots`` steps of batch 32; random resized crops (scale 0.08-1) and flips of the shots; one prompt
per class (the dataset's first template), re-encoded by the adapted text encoder at every step; cross-entropy on
``logit_scale * cos(image, text)``. The last step's adapters are evaluated (no checkpoint is picked on the test set).

Every adapter is a peft LoRA (``use_rslora`` gives alpha/sqrt(r)); peft needs ``nn.Linear`` layers, and
``nn.MultiheadAttention`` has a fused input projection, so :func:`split_attention` first rewrites each attention
layer as four ``nn.Linear`` (q, k, v, out) with the same weights. On a ResNet image tower (RN50) the only attention
is the attention pool; its projections are already ``nn.Linear`` but the pool calls their weights directly, so its
forward is rewritten to call them (CLIP-LoRA itself covers ViTs only; this placement is our extension).

Beyond CLIP-LoRA, the same loop trains on real shots plus synthetic images (DataDream's and DISEF's recipe): every
step then takes a real batch and a synthetic batch and averages their two losses (``syn_weight`` sets the share).
With ``rank: 0`` or no steps nothing is adapted: the model is zero-shot CLIP, unchanged.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from .classifier_tuning import metrics_from_logits
from .errors import SynrecError
from .features import LabelledImages, _Images
from .frozen_bn import bn_layers
from .seeds import name_order, name_rank

DEFAULTS = {"rank": 2, "alpha": 1, "dropout": 0.25, "params": ["q", "k", "v"], "encoder": "both", "lr": 2e-4,
            "weight_decay": 0.01, "betas": [0.9, 0.999], "eta_min": 1e-6, "iters_per_shot": 500, "batch_size": 32,
            "crop_scale": [0.08, 1.0], "syn_weight": 0.5}
PROJ = {"q": "q_proj", "k": "k_proj", "v": "v_proj", "o": "out_proj"}


class SplitAttention(nn.Module):
    """``nn.MultiheadAttention`` (same-size q/k/v, as in CLIP) as four ``nn.Linear`` layers with its weights, so that
    peft can place an adapter on any of them. Called as open_clip's blocks call the original:
    ``attn(q, k, v, need_weights=False, attn_mask=mask)`` -> ``(out, None)``."""

    def __init__(self, mha: nn.MultiheadAttention):
        super().__init__()
        if not mha._qkv_same_embed_dim:
            raise SynrecError("CLIP-LoRA: an attention layer with different query/key/value sizes is not supported")
        d, bias = mha.embed_dim, mha.in_proj_bias is not None
        self.num_heads, self.batch_first, self.dropout = mha.num_heads, mha.batch_first, mha.dropout
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(d, d, bias=bias) for _ in range(3))
        self.out_proj = nn.Linear(d, d, bias=mha.out_proj.bias is not None)
        w = mha.in_proj_weight.detach()
        b = mha.in_proj_bias.detach() if bias else None
        with torch.no_grad():
            for i, lin in enumerate((self.q_proj, self.k_proj, self.v_proj)):
                lin.weight.copy_(w[i * d:(i + 1) * d])
                if bias:
                    lin.bias.copy_(b[i * d:(i + 1) * d])
            self.out_proj.weight.copy_(mha.out_proj.weight)
            if self.out_proj.bias is not None:
                self.out_proj.bias.copy_(mha.out_proj.bias)
        self.to(w.device, w.dtype)

    def forward(self, query, key, value, need_weights=False, attn_mask=None, **_):
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        n, lq, d = query.shape
        h = self.num_heads

        def heads(x, length):
            return x.reshape(n, length, h, d // h).transpose(1, 2)

        q = heads(self.q_proj(query), lq)
        k, v = heads(self.k_proj(key), key.shape[1]), heads(self.v_proj(value), value.shape[1])
        if attn_mask is not None and attn_mask.dtype == torch.bool:  # MHA: True = masked out
            attn_mask = torch.zeros_like(attn_mask, dtype=q.dtype).masked_fill(attn_mask, float("-inf"))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                             dropout_p=self.dropout if self.training else 0.0)
        out = self.out_proj(out.transpose(1, 2).reshape(n, lq, d))
        return (out if self.batch_first else out.transpose(0, 1)), None


def _pool_forward(self, x):
    """open_clip's AttentionPool2d, calling its projections as modules (so adapters on them take part). Only the
    mean token's output is used, so only its query is computed."""
    x = x.flatten(2).permute(0, 2, 1)  # (N, HW, C)
    x = torch.cat([x.mean(1, keepdim=True), x], 1) + self.positional_embedding.to(x.dtype)
    n, length, d = x.shape
    h = self.num_heads
    q = self.q_proj(x[:, :1]).reshape(n, 1, h, d // h).transpose(1, 2)
    k = self.k_proj(x).reshape(n, length, h, d // h).transpose(1, 2)
    v = self.v_proj(x).reshape(n, length, h, d // h).transpose(1, 2)
    out = F.scaled_dot_product_attention(q, k, v)
    return self.c_proj(out.transpose(1, 2).reshape(n, d))


def split_attention(model, encoder: str = "both") -> list[str]:
    """Rewrite the attention of the chosen encoder(s) (``vision``, ``text`` or ``both``) in place; returns the
    qualified names of the attention modules, whose ``q_proj``/``k_proj``/``v_proj``/``out_proj`` (``c_proj`` in an
    attention pool) take adapters."""
    if encoder not in ("vision", "text", "both"):
        raise SynrecError(f"few_shot.clip_lora.encoder: {encoder!r}; expected vision, text or both")
    towers = [("visual", "visual")] * (encoder != "text") + [("", None)] * (encoder != "vision")
    names = []
    for prefix, attr in towers:
        tower = getattr(model, attr) if attr else model
        pool = getattr(tower, "attnpool", None) if prefix == "visual" else None
        if pool is not None:  # a ModifiedResNet image tower: its attention pool
            if not hasattr(pool, "_synrec_split"):
                pool.forward = _pool_forward.__get__(pool)
                pool._synrec_split = True
            names.append(f"{prefix}.attnpool")
            continue
        transformer = getattr(tower, "transformer", None)
        blocks = getattr(transformer, "resblocks", None)
        if blocks is None:
            raise SynrecError(f"CLIP-LoRA: the {'image' if prefix else 'text'} tower ({type(tower).__name__}) has no "
                              "transformer blocks or attention pool to adapt")
        for i, block in enumerate(blocks):
            if isinstance(block.attn, nn.MultiheadAttention):
                block.attn = SplitAttention(block.attn)
            elif not isinstance(block.attn, SplitAttention):
                raise SynrecError(f"CLIP-LoRA: block {i} of the {prefix or 'text'} tower has a "
                                  f"{type(block.attn).__name__}, not nn.MultiheadAttention")
            names.append(f"{prefix + '.' if prefix else ''}transformer.resblocks.{i}.attn")
    return names


def target_modules(attention: list[str], params: list[str]) -> list[str]:
    """The qualified ``nn.Linear`` names that take an adapter (``params`` among q, k, v, o)."""
    bad = sorted(set(params) - set(PROJ))
    if bad or not params:
        raise SynrecError(f"few_shot.clip_lora.params: {params!r}; expected a non-empty subset of q, k, v, o")
    return [f"{a}.{'c_proj' if p == 'o' and a.endswith('attnpool') else PROJ[p]}" for a in attention for p in params]


def add_adapters(model, cfg: dict):
    """Split the attention and put peft LoRA adapters on it; returns the ``PeftModel`` (its ``base_model.model``
    is ``model``), only the adapters trainable."""
    from peft import LoraConfig, get_peft_model

    targets = target_modules(split_attention(model, cfg["encoder"]), cfg["params"])
    model.requires_grad_(False)
    lora = LoraConfig(r=int(cfg["rank"]), lora_alpha=cfg["alpha"], lora_dropout=cfg["dropout"], use_rslora=True,
                      target_modules=targets, bias="none")
    return get_peft_model(model, lora)


def class_text(model, tokenizer, classnames: list[str], template: str, device) -> torch.Tensor:
    """``(C, D)`` normalised text embeddings of one prompt per class, through the (adapted) text encoder."""
    tokens = tokenizer([template.replace("{c}", c) for c in classnames]).to(device)
    return F.normalize(model.encode_text(tokens).float(), dim=-1)


def total_steps(cfg: dict, shots: int) -> int:
    return int(cfg["iters_per_shot"]) * int(shots)


def _batches(n: int, batch_size: int, gen: torch.Generator):
    """Endless shuffled batches of indices into ``range(n)`` (a new permutation per pass)."""
    while True:
        order = torch.randperm(n, generator=gen).tolist()
        for a in range(0, n, batch_size):
            yield order[a:a + batch_size]


def _stack(data, idx):
    items = [data[i] for i in idx]
    return torch.stack([x for x, _ in items]), torch.as_tensor([int(y) for _, y in items])


def train_clip_lora(model, tokenizer, augment, real, real_idx, classnames: list[str], template: str, cfg: dict,
                    shots: int, syn=None, syn_idx=None, logit_scale: float = 100.0, seed: int = 0, device="cpu",
                    progress: bool = True):
    """Adapt ``model`` on the real images ``real.image(i)`` (``i`` in ``real_idx``) and, if given, the synthetic
    ``syn.image(j)`` (``j`` in ``syn_idx``), each taken in class-name order (so relabelled classes train the same).
    Returns ``(model, peft_model_or_None, history)``; with rank 0 or no steps the model comes back untouched and
    ``peft_model`` is None."""
    cfg = {**DEFAULTS, **cfg}
    steps = total_steps(cfg, shots)
    if int(cfg["rank"]) == 0 or steps == 0:
        return model, None, []
    real_idx = np.asarray(real_idx)[name_order(np.asarray(real.labels)[real_idx], classnames)]  # see seeds.name_order
    if syn is not None and len(syn_idx):
        syn_idx = np.asarray(syn_idx)[name_order(np.asarray(syn.labels)[syn_idx], classnames)]
    torch.manual_seed(seed)
    peft_model = add_adapters(model, cfg).to(device)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"], betas=tuple(cfg["betas"]))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=cfg["eta_min"])
    gen = torch.Generator().manual_seed(seed)
    streams = [(LabelledImages(real, augment, np.asarray(real_idx)), None)]
    if syn is not None and len(syn_idx):
        streams.append((LabelledImages(syn, augment, np.asarray(syn_idx)), None))
    weights = [1.0] if len(streams) == 1 else [1.0 - cfg["syn_weight"], cfg["syn_weight"]]
    iters = [_batches(len(d), int(cfg["batch_size"]), gen) for d, _ in streams]
    # prompts, logit columns and targets in class-name order: relabelled classes compute the same numbers
    rank = torch.as_tensor(name_rank(classnames))
    by_name = [classnames[i] for i in np.argsort(rank.numpy())]
    history, window = [], []
    model.train()
    for bn in bn_layers(model):  # a ResNet tower keeps CLIP's BatchNorm statistics (adapters alone are trained)
        bn.eval()
    for step in tqdm(range(steps), desc="CLIP-LoRA", disable=not progress, unit="step"):
        text = class_text(model, tokenizer, by_name, template, device)
        loss = 0.0
        for (data, _), it, wgt in zip(streams, iters, weights):
            x, y = _stack(data, next(it))
            img = F.normalize(model.encode_image(x.to(device)).float(), dim=-1)
            loss = loss + wgt * F.cross_entropy(logit_scale * img @ text.t(), rank[y].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        window.append(float(loss.detach()))
        if (step + 1) % max(1, steps // 20) == 0 or step + 1 == steps:
            history.append({"step": step + 1, "loss": float(np.mean(window)), "lr": sched.get_last_lr()[0]})
            window = []
    model.eval()
    return model, peft_model, history


@torch.no_grad()
def evaluate_clip_lora(model, tokenizer, preprocess, test, classnames: list[str], template: str,
                       logit_scale: float = 100.0, device="cpu", batch_size: int = 256, num_workers: int = 0,
                       progress: bool = True) -> dict:
    """Top-1 etc. (``metrics_from_logits``) of the (adapted) model on every image of ``test``: its image features
    against the one-prompt text classifier of its text encoder."""
    model.eval()
    rank = torch.as_tensor(name_rank(classnames))
    text = class_text(model, tokenizer, [classnames[i] for i in np.argsort(rank.numpy())], template, device)
    loader = torch.utils.data.DataLoader(_Images(test, preprocess), batch_size=batch_size, num_workers=num_workers)
    logits = [(logit_scale * F.normalize(model.encode_image(x.to(device)).float(), dim=-1) @ text.t()).cpu()[:, rank]
              for x in tqdm(loader, desc="test", disable=not progress, unit="batch")]  # columns back in label order
    out = torch.cat(logits) if logits else torch.zeros(0, len(classnames))
    return metrics_from_logits(out, test.labels)


def save_adapters(peft_model, folder: str | Path) -> None:
    """peft's own format (``adapter_config.json``, ``adapter_model.safetensors``): load with
    :func:`load_adapters` on the same CLIP, or with peft on a CLIP whose attention :func:`split_attention` split."""
    peft_model.save_pretrained(str(folder))


def load_adapters(model, folder: str | Path, encoder: str = "both"):
    from peft import PeftModel

    split_attention(model, encoder)
    return PeftModel.from_pretrained(model, str(folder)).eval()


def n_adapter_parameters(peft_model) -> int:
    return int(sum(p.numel() for n, p in peft_model.named_parameters() if "lora_" in n))


def lora_delta_norm(peft_model) -> float:
    """The size of what training added: the Frobenius norm of every ``B @ A`` (0 before any step)."""
    total = 0.0
    for module in peft_model.modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            delta = (module.lora_B["default"].weight @ module.lora_A["default"].weight).detach()
            total += float(delta.pow(2).sum())
    return math.sqrt(total)
