"""Real filtering (RF): drop synthetic images that look more like another class's real shots than their own.

The paper (Sec. 3.2) describes RF in one sentence and the authors released no code for it, so the rule is ours:
with L2-normalised CLIP features, a synthetic image of class c is dropped when its highest cosine similarity to the
real shots of any other class exceeds its highest similarity to the real shots of class c by more than ``margin``
(default 0: its nearest real shot belongs to another class). A larger margin drops fewer images.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def real_filter(syn_features: np.ndarray, syn_labels: np.ndarray, real_features: np.ndarray,
                real_labels: np.ndarray, n_classes: int, margin: float = 0.0, block: int = 2048) -> np.ndarray:
    """Sorted indices of the synthetic images kept. Works in blocks of ``block`` synthetic images (memory
    ``block x n_real`` floats), so 800 images x 1,000 classes against 16 shots per class fit easily."""
    real = F.normalize(torch.as_tensor(real_features, dtype=torch.float32), dim=-1)
    real_labels = torch.as_tensor(real_labels, dtype=torch.long)
    keep = []
    for a in range(0, len(syn_labels), block):
        syn = F.normalize(torch.as_tensor(syn_features[a : a + block], dtype=torch.float32), dim=-1)
        sim = syn @ real.T  # (B, R)
        # best similarity to each class's shots, -inf for a class without shots: (B, C)
        per_class = torch.full((len(syn), n_classes), -torch.inf)
        per_class.scatter_reduce_(1, real_labels.expand(len(syn), -1), sim, reduce="amax")
        own_lab = torch.as_tensor(syn_labels[a : a + block], dtype=torch.long)[:, None]
        own = per_class.gather(1, own_lab)[:, 0]
        other = per_class.scatter(1, own_lab, -torch.inf).amax(-1)
        keep.append(np.flatnonzero((other <= own + margin).numpy()) + a)
    return np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
