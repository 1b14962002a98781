"""CLIP filter (CF): drop synthetic images that zero-shot CLIP does not recognise as their own class.

Confidence of an image = softmax over classes of ``100 * cos(image, class text embedding)``, taken at the image's
own class. Per class, with threshold ``t`` (default ``1/C``) and budget ``k`` (default 800), the paper's code
keeps a random ``k`` of the images above ``t`` when there are at least ``k`` of them, and otherwise the ``k`` most
confident images (so some below ``t`` survive). ``budget: null`` keeps exactly the images above ``t``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .seeds import derive_seed


def clip_confidence(features: np.ndarray, labels: np.ndarray, class_emb: torch.Tensor, scale: float = 100.0):
    """Softmax probability of each image's own class under the zero-shot head."""
    f = F.normalize(torch.as_tensor(features, dtype=torch.float32), dim=-1)
    probs = F.softmax(scale * f @ class_emb.float().T, dim=-1)
    return probs[torch.arange(len(labels)), torch.as_tensor(labels)].numpy()


def clip_filter(confidence: np.ndarray, labels: np.ndarray, classnames: list[str], threshold: float | None = None,
                budget: int | None = 800, seed: int = 0) -> np.ndarray:
    """Sorted indices of the images kept. A class's random draw is keyed on its name, not its label."""
    thr = 1.0 / len(classnames) if threshold is None else threshold
    keep = []
    for c, name in enumerate(classnames):
        idx = np.flatnonzero(labels == c)
        above = idx[confidence[idx] > thr]
        if budget is None:
            keep.append(above)
        elif len(above) >= budget:
            rng = np.random.default_rng(derive_seed(seed, "clip-filter", name))
            keep.append(rng.choice(above, size=budget, replace=False))
        else:  # fewer than the budget pass: top-k by confidence, as the paper's code does
            order = idx[np.argsort(-confidence[idx], kind="stable")]
            keep.append(order[:budget])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)
