"""CoOp (Zhou et al., IJCV 2022), the prompt-learning baseline of Figure 1: ``[V]_1 … [V]_M [CLASS].``

M context vectors (16 by default), shared by all classes and initialised from N(0, 0.02²), replace the word
embeddings of M placeholder tokens in front of each class name; the class token sits at the end. Only the context
vectors are trained, through CLIP's frozen text encoder, with cross-entropy on ``logit_scale · cos(image, text)``.
The image encoder is frozen too, so the few-shot images enter as cached features. Optimisation follows CoOp's
configs: SGD (momentum 0.9, weight decay 5e-4), lr 0.002 with a cosine schedule over the epochs, one warm-up epoch
at a constant 1e-5, batch 32, 50/100/100/200/200 epochs for 1/2/4/8/16 shots, the last epoch's prompts reported.
CoOp also augments the shots (random resized crop, flip) every epoch; on cached features we do not.

Written against open_clip's text tower (``token_embedding``, ``positional_embedding``, ``transformer``,
``ln_final``, ``text_projection``), not copied from CoOp's code.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from open_clip.transformer import text_global_pool

from .classifier_tuning import metrics_from_logits
from .errors import SynrecError


class PromptLearner(nn.Module):
    """Class-shared learned context in front of every class name; ``forward()`` gives the ``(C, D)`` normalised
    text embeddings of the C prompts through the frozen text encoder of an open_clip ``CLIP`` model."""

    def __init__(self, model, tokenizer, classnames: list[str], n_ctx: int = 16, init_std: float = 0.02,
                 seed: int = 0):
        super().__init__()
        if not hasattr(model, "token_embedding"):
            raise SynrecError(f"CoOp needs an open_clip CLIP text tower (token_embedding); {type(model).__name__} "
                              "has none")
        self.model = model.requires_grad_(False)
        placeholder = " ".join(["X"] * n_ctx)
        tokens = tokenizer([f"{placeholder} {name}." for name in classnames])
        if int(tokens.argmax(-1).min()) < n_ctx + 2:
            raise SynrecError(f"CoOp: a prompt of {n_ctx} context tokens plus a class name does not fit the "
                              f"text encoder's {tokens.shape[1]} tokens")
        self.register_buffer("tokens", tokens, persistent=False)
        with torch.no_grad():
            emb = model.token_embedding(tokens)
        self.register_buffer("prefix", emb[:, :1].clone(), persistent=False)  # start-of-text
        self.register_buffer("suffix", emb[:, 1 + n_ctx:].clone(), persistent=False)  # class, '.', end, padding
        gen = torch.Generator().manual_seed(seed)
        self.ctx = nn.Parameter(torch.randn(n_ctx, emb.shape[-1], generator=gen) * init_std)

    def forward(self) -> torch.Tensor:
        m = self.model
        c = self.prefix.shape[0]
        x = torch.cat([self.prefix, self.ctx.unsqueeze(0).expand(c, -1, -1).to(self.prefix.dtype), self.suffix], 1)
        x = x + m.positional_embedding.to(x.dtype)
        x = m.transformer(x, attn_mask=m.attn_mask)
        x = m.ln_final(x)
        x = text_global_pool(x, self.tokens, m.text_pool_type, eos_token_id=getattr(m, "text_eos_id", None))
        x = m.text_projection(x) if isinstance(m.text_projection, nn.Linear) else x @ m.text_projection
        return F.normalize(x.float(), dim=-1)


def coop_epochs(cfg: dict, shots: int, dataset: str) -> int:
    """CoOp's schedule: per shot count, unless the dataset has a fixed number (ImageNet: 50)."""
    if dataset in cfg.get("dataset_epochs", {}):
        return int(cfg["dataset_epochs"][dataset])
    return int(cfg["epochs"][str(shots)] if str(shots) in cfg["epochs"] else cfg["epochs"][max(cfg["epochs"], key=int)])


def coop_lr(epoch: int, cfg: dict, epochs: int) -> float:
    """Constant warm-up lr for ``warmup_epochs``, then cosine from ``lr`` over the remaining epochs (per epoch, as
    Dassl's scheduler steps)."""
    if epoch < cfg["warmup_epochs"]:
        return cfg["warmup_lr"]
    return 0.5 * cfg["lr"] * (1 + math.cos(math.pi * epoch / epochs))


def logits(prompts: PromptLearner, features: torch.Tensor, logit_scale: float) -> torch.Tensor:
    return logit_scale * F.normalize(features.float(), dim=-1) @ prompts().t()


def train_coop(model, tokenizer, classnames, shot_x, shot_y, cfg: dict, epochs: int, seed: int = 0,
               logit_scale: float = 100.0, device="cpu"):
    """Learn the context on the cached features of the shots; returns ``(prompts, history)``."""
    torch.manual_seed(seed)
    prompts = PromptLearner(model, tokenizer, classnames, cfg["n_ctx"], cfg["init_std"], seed).to(device)
    x = torch.as_tensor(np.asarray(shot_x), dtype=torch.float32, device=device)
    y = torch.as_tensor(np.asarray(shot_y), dtype=torch.long, device=device)
    opt = torch.optim.SGD([prompts.ctx], lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"])
    gen = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(epochs):
        lr = coop_lr(epoch, cfg, epochs)
        for group in opt.param_groups:
            group["lr"] = lr
        perm = torch.randperm(len(y), generator=gen).to(device)
        total = 0.0
        for a in range(0, len(y), cfg["batch_size"]):
            idx = perm[a : a + cfg["batch_size"]]
            loss = F.cross_entropy(logits(prompts, x[idx], logit_scale), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append({"epoch": epoch + 1, "loss": total / max(1, len(y)), "lr": lr})
    return prompts.eval(), history


@torch.no_grad()
def evaluate_coop(prompts: PromptLearner, features, labels, logit_scale: float = 100.0) -> dict:
    emb = prompts().cpu()
    feats = F.normalize(torch.as_tensor(np.asarray(features), dtype=torch.float32), dim=-1)
    return metrics_from_logits(logit_scale * feats @ emb.t(), labels)
