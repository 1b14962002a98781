"""Soft-target cross-entropy (SCE), the paper's loss against label noise in synthetic data (Sec. 3.1, App. C.4).

The teacher is the frozen zero-shot CLIP head; its logits (100 * cosine) are softened with temperature T into
targets, and the loss mixes SCE with the hard-label CE: ``loss = sl * SCE + (1 - sl) * CE``. As in the paper's code
the student side is not divided by T and there is no T^2 factor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_targets(teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return F.softmax(teacher_logits / temperature, dim=-1)


def soft_target_cross_entropy(student_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-sum_c targets_c * log_softmax(student)_c``."""
    return -(targets * F.log_softmax(student_logits, dim=-1)).sum(-1).mean()


def sce_loss(student_logits, teacher_logits, labels, weight: float = 0.5, temperature: float = 2.0) -> torch.Tensor:
    """``weight * SCE(student, softmax(teacher / T)) + (1 - weight) * CE(student, labels)``."""
    sce = soft_target_cross_entropy(student_logits, soft_targets(teacher_logits.detach(), temperature))
    return weight * sce + (1.0 - weight) * F.cross_entropy(student_logits, labels)
