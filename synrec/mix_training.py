"""Few-shot classifier tuning with synthetic data: mix training and the two phase-wise orders (Sec. 3.2, Table 7).

**Mix training**: every step takes one real batch and one synthetic batch, each through its own forward pass, and
minimises ``w_real * CE(real) + w_syn * [(1 - sl) * CE(syn) + sl * SCE(syn)]`` (SCE on synthetic data only, teacher
= the frozen zero-shot head). An epoch is one pass over the synthetic data; the real shots are reshuffled whenever
they run out. The batch sizes given are the batch sizes used, and the cosine schedule spans exactly the steps run
(the authors' code silently used 128 for both and its schedule swung back up).

**Phase-wise**: CT on one part, then CT on the other starting from the first phase's head (syn->real or real->syn).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .classifier_tuning import ClassifierHead, cosine_lambda, optimizer_step, train_ct
from .sce import sce_loss


class _Cycle:
    """Endless shuffled batches over ``n`` items: a new permutation (from ``gen``) every time they run out."""

    def __init__(self, n: int, batch_size: int, gen: torch.Generator):
        self.n, self.bs, self.gen, self.perm, self.pos = n, batch_size, gen, None, n

    def next(self) -> torch.Tensor:
        if self.pos >= self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.gen), 0
        idx = self.perm[self.pos : self.pos + self.bs]
        self.pos += self.bs
        return idx


def train_mix(real_x, real_y, syn_x, syn_y, class_emb, cfg: dict, sce_cfg: dict, w_real: float = 1.0,
              w_syn: float = 1.0, seed: int = 0, logit_scale: float = 100.0, device="cpu"):
    """Mix training. ``cfg`` holds epochs, lr, weight_decay, batch_size_real, batch_size_syn, warmup_steps and
    grad_clip."""
    torch.manual_seed(seed)
    teacher = ClassifierHead(class_emb, logit_scale).to(device).eval().requires_grad_(False)
    head = ClassifierHead(class_emb, logit_scale).to(device)
    xr, yr = torch.as_tensor(real_x, dtype=torch.float32), torch.as_tensor(real_y, dtype=torch.long)
    xs, ys = torch.as_tensor(syn_x, dtype=torch.float32), torch.as_tensor(syn_y, dtype=torch.long)
    steps_per_epoch = math.ceil(len(ys) / cfg["batch_size_syn"])
    total = cfg["epochs"] * steps_per_epoch
    opt = torch.optim.AdamW(head.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_lambda(total, cfg["warmup_steps"]))
    real = _Cycle(len(yr), cfg["batch_size_real"], torch.Generator().manual_seed(seed))
    syn = _Cycle(len(ys), cfg["batch_size_syn"], torch.Generator().manual_seed(seed + 1))
    history = []
    for epoch in range(cfg["epochs"]):
        total_loss = 0.0
        for _ in range(steps_per_epoch):
            r, s = real.next(), syn.next()
            loss_real = F.cross_entropy(head(xr[r].to(device)), yr[r].to(device))
            xs_b = xs[s].to(device)
            loss_syn = sce_loss(head(xs_b), teacher(xs_b), ys[s].to(device), sce_cfg["weight"], sce_cfg["temperature"])
            loss = w_real * loss_real + w_syn * loss_syn
            total_loss += optimizer_step(head, opt, sched, loss, cfg.get("grad_clip"))
        history.append({"epoch": epoch + 1, "loss": total_loss / steps_per_epoch, "lr": sched.get_last_lr()[0]})
    return head.cpu().eval(), history


def train_phasewise(real_x, real_y, syn_x, syn_y, class_emb, order: str, cfg_real: dict, cfg_syn: dict,
                    sce_cfg: dict, seed: int = 0, logit_scale: float = 100.0, device="cpu"):
    """``order`` = 'syn->real' or 'real->syn'; synthetic phases use SCE, real phases CE."""
    phases = {"syn": (syn_x, syn_y, cfg_syn, "SCE"), "real": (real_x, real_y, cfg_real, "CE")}
    first, second = order.split("->")
    head, history = None, []
    for i, name in enumerate((first, second)):
        x, y, cfg, loss = phases[name]
        head, h = train_ct(np.asarray(x), np.asarray(y), class_emb, cfg, loss, sce_cfg, seed + i, device,
                           progress=False, logit_scale=logit_scale, start=head)
        history += [{**e, "phase": name} for e in h]
    return head, history
