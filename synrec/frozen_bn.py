"""Frozen BN (Sec. 3.2, Table 6): with the CLIP ResNet's weights frozen, does BatchNorm keep CLIP's statistics?

The study runs classifier tuning on images (``image_ct``) through the encoder, weights frozen (as in the authors'
``finetune_fsl``: ``requires_grad=False`` on the whole encoder), only the linear head trained. The one switch:

* BN in train mode: every BatchNorm layer normalises with the batch's own statistics and its running statistics
  drift towards the few real shots (or the synthetic domain); testing then uses those drifted statistics.
* BN frozen: every BatchNorm layer stays in eval mode (CLIP's pre-training statistics), as the authors'
  ``freeze_BN()`` does at the start of each epoch.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .errors import SynrecError


def bn_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def set_encoder_mode(encoder: nn.Module, freeze_bn: bool) -> None:
    """Train mode for the encoder, then eval mode for every BatchNorm layer if ``freeze_bn``."""
    encoder.train()
    if freeze_bn:
        for m in bn_layers(encoder):
            m.eval()


def bn_running_means(encoder: nn.Module) -> torch.Tensor:
    """Every BatchNorm layer's running mean, concatenated (to see whether a run moved them)."""
    return torch.cat([m.running_mean.detach().cpu().flatten() for m in bn_layers(encoder)])


def require_bn(encoder: nn.Module) -> None:
    if not bn_layers(encoder):
        raise SynrecError(f"frozen-BN study: image encoder {type(encoder).__name__} has no BatchNorm layers "
                          "(Table 6 needs a ResNet CLIP, e.g. RN50)")
