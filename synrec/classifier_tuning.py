"""Classifier tuning (CT): train only a linear head on frozen CLIP image features.

The head is ``Linear(D, C)`` on L2-normalised features, its weight initialised to ``logit_scale * class text
embeddings`` (100 for CLIP) and its bias to zero, so before any step it *is* zero-shot CLIP. Training uses AdamW,
a per-iteration cosine schedule with linear warm-up, gradient clipping, and CE or SCE (teacher = the frozen initial
head). The test set is never used for choices: the reported model is the one after the last epoch.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from .intervals import accuracy_interval, pack
from .sce import sce_loss


class ClassifierHead(nn.Module):
    def __init__(self, class_emb: torch.Tensor, logit_scale: float = 100.0):
        super().__init__()
        c, d = class_emb.shape
        self.linear = nn.Linear(d, c)
        with torch.no_grad():
            self.linear.weight.copy_(logit_scale * class_emb.float())
            self.linear.bias.zero_()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(F.normalize(features.float(), dim=-1))


def cosine_lambda(total_steps: int, warmup_steps: int):
    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        rest = max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(step - warmup_steps, rest) / rest))
    return f


def optimizer_step(head: nn.Module, opt, sched, loss: torch.Tensor, grad_clip: float | None) -> float:
    """One AdamW step on ``loss`` with optional gradient clipping and a scheduler step; returns the loss value."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        nn.utils.clip_grad_norm_(head.parameters(), grad_clip)
    opt.step()
    sched.step()
    return float(loss.detach())


def train_ct(features: np.ndarray, labels: np.ndarray, class_emb: torch.Tensor, ct_cfg: dict, loss: str = "CE",
             sce_cfg: dict | None = None, seed: int = 0, device="cpu", progress: bool = True,
             logit_scale: float = 100.0, start: ClassifierHead | None = None):
    """Tune a head initialised from ``logit_scale * class_emb`` (or continue ``start``, for phase-wise training) on
    ``(features, labels)``; returns ``(head, history)``. The SCE teacher is always the zero-shot head."""
    torch.manual_seed(seed)
    teacher = ClassifierHead(class_emb, logit_scale).to(device).eval().requires_grad_(False)
    head = copy.deepcopy(start if start is not None else teacher).to(device).train().requires_grad_(True)
    x = torch.as_tensor(features, dtype=torch.float32, device=device)
    y = torch.as_tensor(labels, dtype=torch.long, device=device)
    n, bs, epochs = len(y), ct_cfg["batch_size"], ct_cfg["epochs"]
    steps_per_epoch = max(1, math.ceil(n / bs)) if n else 0
    opt = torch.optim.AdamW(head.parameters(), lr=ct_cfg["lr"], weight_decay=ct_cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_lambda(epochs * steps_per_epoch, ct_cfg["warmup_steps"]))
    gen = torch.Generator().manual_seed(seed)
    history = []
    for epoch in tqdm(range(epochs if n else 0), desc="CT", disable=not progress, unit="epoch"):
        perm = torch.randperm(n, generator=gen).to(device)
        total = 0.0
        for a in range(0, n, bs):
            idx = perm[a : a + bs]
            logits = head(x[idx])
            if loss == "SCE":
                batch_loss = sce_loss(logits, teacher(x[idx]), y[idx], sce_cfg["weight"], sce_cfg["temperature"])
            elif loss == "CE":
                batch_loss = F.cross_entropy(logits, y[idx])
            else:
                raise ValueError(f"unknown loss {loss!r} (CE or SCE)")
            total += optimizer_step(head, opt, sched, batch_loss, ct_cfg.get("grad_clip")) * len(idx)
        history.append({"epoch": epoch + 1, "loss": total / n, "lr": sched.get_last_lr()[0]})
    return head.cpu().eval(), history


@torch.no_grad()
def evaluate(head: nn.Module, features: np.ndarray, labels: np.ndarray) -> dict:
    """Top-1 accuracy and mean per-class recall, in percent."""
    return metrics_from_logits(head(torch.as_tensor(features, dtype=torch.float32)), labels)


def metrics_from_logits(logits: torch.Tensor, labels) -> dict:
    """Top-1 accuracy with its 95 % interval (a bootstrap over the test images), mean per-class recall (over the
    classes present) and each class's recall, by label (``None`` for a class without test images), in percent; and
    which test images were right (``correct``: packed bits in test order, for the tables' paired and seed intervals:
    :mod:`synrec.intervals`)."""
    logits = torch.as_tensor(logits)
    pred = logits.argmax(-1).numpy()
    labels = np.asarray(labels)
    correct = pred == labels
    recall = [100.0 * float(correct[labels == c].mean()) if (labels == c).any() else None
              for c in range(logits.shape[-1])]
    present = [r for r in recall if r is not None]
    return {"acc1": 100.0 * float(correct.mean()), "acc1_ci95": list(accuracy_interval(correct)),
            "mean_per_class_recall": float(np.mean(present)), "n": int(len(labels)), "recall_per_class": recall,
            "correct": pack(correct)}
