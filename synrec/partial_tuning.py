"""Table 3: tune a growing share of the CLIP image encoder with the head, on synthetic data, and watch accuracy.

The paper tunes "different proportions of the full model parameters" of CLIP RN50 on synthetic EuroSAT, from 0%
(zero-shot) and 0.02% (the head alone) up to 92%, BatchNorm frozen as in its ``finetune_zsl``. It does not say
which proportions are which layers. Here the encoder is unfrozen from the top, one stage at a time::

    head -> + attnpool -> + layer4 -> + layer3 -> + layer2 -> + layer1 -> + stem (= all)

and each run reports the share actually tuned: tuned parameters / (image encoder + head) parameters.
"""

from __future__ import annotations

import torch.nn as nn

from .errors import SynrecError

# from the top of open_clip's ModifiedResNet down; "stem" is the three stem convolutions and their BN
STAGES = ["attnpool", "layer4", "layer3", "layer2", "layer1", "stem"]
LEVELS = ["head"] + STAGES
STEM = ("conv1", "bn1", "conv2", "bn2", "conv3", "bn3")


def stage_modules(encoder: nn.Module, stage: str) -> list[nn.Module]:
    names = STEM if stage == "stem" else (stage,)
    missing = [n for n in names if not hasattr(encoder, n)]
    if missing:
        raise SynrecError(f"partial tuning: image encoder {type(encoder).__name__} has no {missing[0]!r} "
                          "(Table 3 needs a ResNet CLIP such as RN50)")
    return [getattr(encoder, n) for n in names]


def tuned_parameters(encoder: nn.Module, level: str) -> list[nn.Parameter]:
    """The encoder parameters tuned at ``level`` (``head`` = none of them; ``stem`` = all)."""
    if level not in LEVELS:
        raise SynrecError(f"partial tuning: unknown level {level!r} (one of {LEVELS})")
    stages = STAGES[: LEVELS.index(level)]
    params = [p for s in stages for m in stage_modules(encoder, s) for p in m.parameters()]
    return params


def share_tuned(encoder: nn.Module, head_params: int, level: str) -> tuple[int, float]:
    """``(parameters tuned, percent of encoder + head)`` at ``level``."""
    tuned = head_params + sum(p.numel() for p in tuned_parameters(encoder, level))
    total = head_params + sum(p.numel() for p in encoder.parameters())
    return tuned, 100.0 * tuned / total
