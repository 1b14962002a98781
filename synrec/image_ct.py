"""Classifier tuning on *images* through the CLIP image encoder: the path behind Tables 3 and 6.

Cached features (``classifier_tuning``) are the default everywhere else; they were computed once in eval mode with
the encoder frozen. Two studies need the images themselves:

* Table 6 (``frozen_bn``): the encoder's weights stay frozen and only its BatchNorm mode changes.
* Table 3 (``partial_tuning``): a growing part of the encoder is tuned with the head, BatchNorm frozen.

The head starts as the zero-shot text classifier (as in ``classifier_tuning``); with nothing of the encoder tuned
and BN frozen this loop gives exactly the cached-feature CT (same shuffles, same steps; tested). No augmentation:
the CLIP preprocessing only, as for the cached features.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from .classifier_tuning import ClassifierHead, cosine_lambda, metrics_from_logits, optimizer_step
from .features import LabelledImages, _Images
from .frozen_bn import set_encoder_mode
from .sce import sce_loss


def train_image_ct(model, preprocess, source, indices, class_emb: torch.Tensor, cfg: dict, loss: str = "CE",
                   sce_cfg: dict | None = None, freeze_bn: bool = True, tune: list[nn.Parameter] | None = None,
                   seed: int = 0, device="cpu", logit_scale: float = 100.0, num_workers: int = 0,
                   progress: bool = True):
    """Tune a zero-shot-initialised head (and the encoder parameters in ``tune``, at ``cfg['lr_encoder']``) on the
    images ``source.image(i)``, ``i`` in ``indices``, labels from ``source.labels``. ``cfg``: epochs, lr,
    weight_decay, batch_size, warmup_steps, grad_clip. Returns ``(head, history)``; ``model.visual`` keeps what the
    run did to it (tuned weights, drifted BN statistics), so evaluate with :func:`evaluate_images` on the same model."""
    encoder, tune = model.visual, list(tune or [])
    encoder.requires_grad_(False)
    for p in tune:
        p.requires_grad_(True)
    torch.manual_seed(seed)
    teacher = ClassifierHead(class_emb, logit_scale).to(device).eval().requires_grad_(False)
    head = ClassifierHead(class_emb, logit_scale).to(device).train()
    data = LabelledImages(source, preprocess, np.asarray(indices))
    bs, n = cfg["batch_size"], len(data)
    groups = [{"params": list(head.parameters())}]
    if tune:
        groups.append({"params": tune, "lr": cfg.get("lr_encoder", cfg["lr"])})
    opt = torch.optim.AdamW(groups, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    steps = cfg["epochs"] * -(-n // bs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_lambda(steps, cfg.get("warmup_steps", 0)))
    trained = nn.ParameterList(list(head.parameters()) + tune)  # what gradient clipping sees
    gen = torch.Generator().manual_seed(seed)  # the same shuffles as classifier_tuning.train_ct
    history = []
    for epoch in tqdm(range(cfg["epochs"]), desc="image CT", disable=not progress, unit="epoch"):
        set_encoder_mode(encoder, freeze_bn)
        order = torch.randperm(n, generator=gen).tolist()
        total = 0.0
        for x, y in torch.utils.data.DataLoader(data, batch_size=bs, sampler=order, num_workers=num_workers):
            x, y = x.to(device), y.to(device)
            with torch.set_grad_enabled(bool(tune)):
                feats = model.encode_image(x).float()
            logits = head(feats)
            if loss == "SCE":
                batch_loss = sce_loss(logits, teacher(feats.detach()), y, sce_cfg["weight"], sce_cfg["temperature"])
            elif loss == "CE":
                batch_loss = F.cross_entropy(logits, y)
            else:
                raise ValueError(f"unknown loss {loss!r} (CE or SCE)")
            total += optimizer_step(trained, opt, sched, batch_loss, cfg.get("grad_clip")) * len(y)
        history.append({"epoch": epoch + 1, "loss": total / max(1, n), "lr": sched.get_last_lr()[0]})
    encoder.eval().requires_grad_(False)
    return head.cpu().eval(), history


@torch.no_grad()
def evaluate_images(model, preprocess, source, head: nn.Module, device="cpu", batch_size: int = 256,
                    num_workers: int = 0, progress: bool = True) -> dict:
    """Top-1 and mean per-class recall of ``head`` on every image of ``source``, encoder in eval mode (so with
    whatever weights and running BN statistics it holds)."""
    model.visual.eval()
    loader = torch.utils.data.DataLoader(_Images(source, preprocess), batch_size=batch_size, num_workers=num_workers)
    head = head.to(device)
    logits = [head(model.encode_image(x.to(device)).float()).cpu()
              for x in tqdm(loader, desc="test", disable=not progress, unit="batch")]
    out = torch.cat(logits) if logits else torch.zeros(0, head.linear.out_features)
    return metrics_from_logits(out, source.labels)
