"""Tip-Adapter (Zhang et al., 2022): a training-free cache model over the few-shot features, and Tip-Adapter-F.

    logits(f) = 100 * f W^T  +  alpha * exp(-beta * (1 - f K^T)) V

with f the L2-normalised test feature, W the zero-shot class embeddings, K the cache keys and V the shots' one-hot
labels. As the released code does:

* the keys are the shots' features averaged over ``augment_passes`` (10) augmented views (random resized crop with
  scale 0.5-1 and a flip; rule ``shot_features``) and re-normalised;
* Tip-Adapter-F makes K trainable and trains on the augmented views (epoch e sees pass e mod P), with the
  dataset's initial alpha and beta, AdamW lr 1e-3, eps 1e-4, batch 256, cosine schedule, 20 epochs (EuroSAT 100);
* alpha and beta are then searched on the grid ``search_grid`` spans (200 betas x 20 alphas over the dataset's
  ``search_scale``), with the tuned keys for Tip-Adapter-F;
* the keys are used as they are given, in the search and in the test logits alike: the cache's keys are unit vectors
  (:func:`cache_keys`), the tuned keys of Tip-Adapter-F are not re-normalised (the released adapter is a linear
  layer whose weights are the keys), so the pair searched is the pair of the affinity tested.

Unlike the released code, the search uses the *few-shot validation* set (the code searched, and picked the best
epoch, on the test set; its maintainer agreed that was wrong), and the last epoch's keys are kept.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F


def _norm(x) -> torch.Tensor:
    return F.normalize(torch.as_tensor(x, dtype=torch.float32), dim=-1)


def _terms(features, class_emb, keys, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The zero-shot logits and the cache affinities ``f K^T`` of the normalised features; the keys as given."""
    f = _norm(features)
    return scale * f @ _norm(class_emb).T, f @ torch.as_tensor(keys, dtype=torch.float32).T


def tip_logits(features, class_emb, keys, values, alpha: float, beta: float, scale: float = 100.0) -> torch.Tensor:
    zero_shot, affinity = _terms(features, class_emb, keys, scale)
    return zero_shot + alpha * torch.exp(-beta * (1.0 - affinity)) @ values


def search_grid(scale: list[float], steps: list[int]) -> tuple[list[float], list[float]]:
    """``(alphas, betas)`` of the released code's search: ``steps[0]`` betas from 0.1 towards ``scale[0]`` and
    ``steps[1]`` alphas from 0.1 towards ``scale[1]``, evenly spaced."""
    betas = [i * (scale[0] - 0.1) / steps[0] + 0.1 for i in range(steps[0])]
    alphas = [i * (scale[1] - 0.1) / steps[1] + 0.1 for i in range(steps[1])]
    return alphas, betas


def cache_keys(views) -> torch.Tensor:
    """The cache keys from the shots' features over P augmented passes ``(P, N, D)`` (or ``(N, D)``: one pass):
    each view normalised, averaged over the passes, normalised again."""
    v = torch.as_tensor(np.asarray(views), dtype=torch.float32)
    if v.dim() == 2:
        v = v[None]
    return _norm(_norm(v).mean(0))


def one_hot(labels, n_classes: int) -> torch.Tensor:
    return F.one_hot(torch.as_tensor(labels, dtype=torch.long), n_classes).float()


def search_alpha_beta(features, labels, class_emb, keys, values, alphas, betas, scale: float = 100.0):
    """The (alpha, beta) with the best top-1 on ``(features, labels)`` - pass the few-shot validation set.

    The zero-shot logits and the affinities are computed once (with :func:`tip_logits`' own terms, so the pair is
    searched on the affinity it is tested with), the cache term once per beta; ties go to the first pair in (alpha,
    beta) order."""
    labels = torch.as_tensor(labels)
    zero_shot, affinity = _terms(features, class_emb, keys, scale)
    scores = {}
    for b in betas:
        cache = torch.exp(-b * (1.0 - affinity)) @ values
        for a in alphas:
            scores[(a, b)] = ((zero_shot + a * cache).argmax(-1) == labels).float().mean().item()
    top = max(scores.values())
    return next(ab for ab in itertools.product(alphas, betas) if scores[ab] == top)


def train_tip_adapter_f(views, shot_labels, class_emb, alpha: float, beta: float, epochs: int = 20,
                        lr: float = 1e-3, batch_size: int = 256, seed: int = 0, scale: float = 100.0) -> torch.Tensor:
    """Tip-Adapter-F: fine-tune the cache keys (initialised by :func:`cache_keys`) with CE on the augmented views
    ``(P, N, D)`` of the shots, epoch e on pass e mod P; returns the tuned keys."""
    torch.manual_seed(seed)
    v = torch.as_tensor(np.asarray(views), dtype=torch.float32)
    v = _norm(v[None] if v.dim() == 2 else v)
    y = torch.as_tensor(shot_labels, dtype=torch.long)
    values = one_hot(y, class_emb.shape[0])
    keys = torch.nn.Parameter(cache_keys(v))
    opt = torch.optim.AdamW([keys], lr=lr, eps=1e-4)
    steps = epochs * max(1, -(-len(y) // batch_size))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        x = v[epoch % len(v)]
        perm = torch.randperm(len(y), generator=gen)
        for a in range(0, len(y), batch_size):
            idx = perm[a : a + batch_size]
            logits = tip_logits(x[idx], class_emb, keys, values, alpha, beta, scale)
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return keys.detach()


def accuracy(logits: torch.Tensor, labels) -> float:
    return 100.0 * float((logits.argmax(-1) == torch.as_tensor(np.asarray(labels))).float().mean())
