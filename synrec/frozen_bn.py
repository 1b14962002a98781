"""Frozen BN (Sec. 3.2, Table 6): classifier tuning on *images*, through the CLIP ResNet image encoder.

Cached features (``classifier_tuning``) are the default path and cannot show a BatchNorm effect: they were computed
once in eval mode. Table 6 needs the image path. Here every batch goes through the image encoder, whose weights
stay frozen (as in the authors' ``finetune_fsl``: ``requires_grad=False`` on the whole encoder), and only the linear
head is trained, initialised from the zero-shot text classifier. The one switch is BatchNorm:

* ``freeze_bn=False``: the encoder runs in train mode, so every BatchNorm layer normalises with the batch's own
  statistics and its running statistics drift towards the few real shots (or the synthetic domain); testing then
  uses those drifted statistics.
* ``freeze_bn=True``: every BatchNorm layer stays in eval mode (CLIP's pre-training statistics), as the authors'
  ``freeze_BN()`` does at the start of each epoch.

No gradient flows into the encoder, so it runs under ``torch.no_grad()``; BatchNorm still updates its running
statistics in train mode. No augmentation: the CLIP preprocessing only, as for the cached features.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from .classifier_tuning import ClassifierHead, cosine_lambda, metrics_from_logits, optimizer_step
from .errors import SynrecError
from .features import _Images
from .sce import sce_loss


def bn_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def set_encoder_mode(encoder: nn.Module, freeze_bn: bool) -> None:
    """Train mode for the encoder, then eval mode for every BatchNorm layer if ``freeze_bn``."""
    encoder.train()
    if freeze_bn:
        for m in bn_layers(encoder):
            m.eval()


def train_image_ct(model, preprocess, source, indices, class_emb: torch.Tensor, cfg: dict, loss: str = "CE",
                   sce_cfg: dict | None = None, freeze_bn: bool = True, seed: int = 0, device="cpu",
                   logit_scale: float = 100.0, num_workers: int = 0, progress: bool = True):
    """Tune a zero-shot-initialised head on images ``source.image(i)``, ``i`` in ``indices``, labels from
    ``source.labels``, through the frozen ``model.visual``. ``cfg``: epochs, lr, weight_decay, batch_size,
    warmup_steps, grad_clip. Returns ``(head, history)``; ``model.visual`` keeps whatever BN statistics the run
    left in it (that is the point of the study), so evaluate with :func:`evaluate_images` on the same model."""
    encoder = model.visual
    if not bn_layers(encoder):
        raise SynrecError(f"frozen-BN study: image encoder {type(encoder).__name__} has no BatchNorm layers "
                          "(Table 6 needs a ResNet CLIP, e.g. RN50)")
    encoder.requires_grad_(False)
    torch.manual_seed(seed)
    teacher = ClassifierHead(class_emb, logit_scale).to(device).eval().requires_grad_(False)
    head = ClassifierHead(class_emb, logit_scale).to(device).train()
    indices = np.asarray(indices)
    labels = torch.as_tensor(np.asarray(source.labels)[indices], dtype=torch.long)
    data = _LabelledImages(source, preprocess, indices, labels)
    bs, n = cfg["batch_size"], len(indices)
    opt = torch.optim.AdamW(head.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    steps = cfg["epochs"] * -(-n // bs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_lambda(steps, cfg.get("warmup_steps", 0)))
    gen = torch.Generator().manual_seed(seed)  # the same shuffles as classifier_tuning.train_ct
    history = []
    for epoch in tqdm(range(cfg["epochs"]), desc="image CT", disable=not progress, unit="epoch"):
        set_encoder_mode(encoder, freeze_bn)
        order = torch.randperm(n, generator=gen).tolist()
        total = 0.0
        for x, y in torch.utils.data.DataLoader(data, batch_size=bs, sampler=order, num_workers=num_workers):
            x, y = x.to(device), y.to(device)
            with torch.no_grad():
                feats = model.encode_image(x).float()
            logits = head(feats)
            if loss == "SCE":
                l = sce_loss(logits, teacher(feats), y, sce_cfg["weight"], sce_cfg["temperature"])
            elif loss == "CE":
                l = F.cross_entropy(logits, y)
            else:
                raise ValueError(f"unknown loss {loss!r} (CE or SCE)")
            total += optimizer_step(head, opt, sched, l, cfg.get("grad_clip")) * len(y)
        history.append({"epoch": epoch + 1, "loss": total / max(1, n), "lr": sched.get_last_lr()[0]})
    encoder.eval()
    return head.cpu().eval(), history


@torch.no_grad()
def evaluate_images(model, preprocess, source, head: nn.Module, device="cpu", batch_size: int = 256,
                    num_workers: int = 0, progress: bool = True) -> dict:
    """Top-1 and mean per-class recall of ``head`` on every image of ``source``, encoder in eval mode (so with
    whatever running BN statistics it holds)."""
    model.visual.eval()
    loader = torch.utils.data.DataLoader(_Images(source, preprocess), batch_size=batch_size, num_workers=num_workers)
    head = head.to(device)
    logits = [head(model.encode_image(x.to(device)).float()).cpu()
              for x in tqdm(loader, desc="test", disable=not progress, unit="batch")]
    out = torch.cat(logits) if logits else torch.zeros(0, head.linear.out_features)
    return metrics_from_logits(out, source.labels)


def bn_running_means(encoder: nn.Module) -> torch.Tensor:
    """Every BatchNorm layer's running mean, concatenated (to see whether a run moved them)."""
    return torch.cat([m.running_mean.detach().cpu().flatten() for m in bn_layers(encoder)])


class _LabelledImages(_Images):
    def __init__(self, source, preprocess, indices, labels: torch.Tensor):
        super().__init__(source, preprocess, indices)
        self.labels = labels

    def __getitem__(self, i):
        return super().__getitem__(i), self.labels[i]

