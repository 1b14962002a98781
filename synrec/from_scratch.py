"""Table 4: a ResNet-50 trained from random initialisation on synthetic images, against real subsets.

The paper trains ResNet-50 from scratch on 50k synthetic CIFAR-100 images (500 per class; 28.74% top-1) and on
real subsets of 1 … 100 images per class, to see how many real images the synthetic set is worth (about 95). It
gives no training recipe. Here: a timm model (``timm.create_model(name, pretrained=False)``), timm's training and
eval transforms at ``image_size``, SGD with momentum and a per-step cosine schedule with warm-up, the model after
the last epoch tested on the real test split. Images stream from the HDF5 image store (or the dataset's files)
through a DataLoader; nothing is loaded whole. Training checkpoints regularly and resumes after a kill.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .classifier_tuning import metrics_from_logits
from .features import LabelledImages
from .few_shot import sample_shots
from .models import timm_model
from .seeds import derive_seed
from .training import SeededAugment, cross_entropy_step, train_loop

build_model = timm_model  # a randomly initialised timm model by name


def transforms(image_size: int):
    """timm's training transform (random resized crop, flip, colour jitter) and eval transform, ImageNet mean/std."""
    from timm.data import create_transform

    return (create_transform(image_size, is_training=True),
            create_transform(image_size, is_training=False, crop_pct=1.0))


def per_class_subset(labels, per_class: int, seed: int, classnames: list[str]) -> np.ndarray:
    """``per_class`` images of each class (all a class has, if fewer), reproducible from ``seed``."""
    return sample_shots(np.asarray(labels), per_class, derive_seed(seed, "from-scratch"), classnames)


def train_from_scratch(model, source, indices, cfg: dict, seed: int = 0, device="cpu", num_workers: int = 0,
                       progress: bool = True, checkpoint: str | Path | None = None, checkpoint_every: int = 0,
                       on_step=None) -> list[dict]:
    """Train ``model`` on the images ``indices`` of ``source`` with cross-entropy (:func:`synrec.training.train_loop`:
    checkpoints every ``checkpoint_every`` steps, resumes from ``checkpoint``). ``cfg``: epochs, batch_size, lr,
    momentum, weight_decay, warmup_epochs, image_size, optionally optimizer. Returns the per-epoch history."""
    train_tf, _ = transforms(cfg["image_size"])
    data = SeededAugment(LabelledImages(source, train_tf, np.asarray(indices)), seed)
    return train_loop(model, data, cross_entropy_step, cfg, seed, device, num_workers, progress, checkpoint,
                      checkpoint_every, on_step, desc="from scratch")


@torch.no_grad()
def evaluate_model(model, source, image_size: int, device="cpu", batch_size: int = 256, num_workers: int = 0,
                   progress: bool = True) -> dict:
    _, eval_tf = transforms(image_size)
    loader = torch.utils.data.DataLoader(LabelledImages(source, eval_tf), batch_size=batch_size,
                                         num_workers=num_workers)
    model.to(device).eval()
    logits = [model(x.to(device)).float().cpu() for x, _ in tqdm(loader, desc="test", disable=not progress)]
    return metrics_from_logits(torch.cat(logits), source.labels)
