"""Table 4: a ResNet-50 trained from random initialisation on synthetic images, against real subsets.

The paper trains ResNet-50 from scratch on 50k synthetic CIFAR-100 images (500 per class; 28.74% top-1) and on
real subsets of 1 … 100 images per class, to see how many real images the synthetic set is worth (about 95). It
gives no training recipe. Here: a timm model (``timm.create_model(name, pretrained=False)``), timm's training and
eval transforms at ``image_size``, SGD with momentum and a per-step cosine schedule with warm-up, the model after
the last epoch tested on the real test split. Images stream from the HDF5 image store (or the dataset's files)
through a DataLoader; nothing is loaded whole.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .classifier_tuning import cosine_lambda, metrics_from_logits
from .errors import SynrecError
from .features import LabelledImages
from .few_shot import sample_shots
from .seeds import derive_seed


def build_model(name: str, num_classes: int, seed: int):
    import timm

    if name not in timm.list_models():
        raise SynrecError(f"from-scratch model {name!r} is not a timm model name (see timm.list_models())")
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=False, num_classes=num_classes)


def transforms(image_size: int):
    """timm's training transform (random resized crop, flip, colour jitter) and eval transform, ImageNet mean/std."""
    from timm.data import create_transform

    return (create_transform(image_size, is_training=True),
            create_transform(image_size, is_training=False, crop_pct=1.0))


def per_class_subset(labels, per_class: int, seed: int, n_classes: int) -> np.ndarray:
    """``per_class`` images of each class (all a class has, if fewer), reproducible from ``seed``."""
    return sample_shots(np.asarray(labels), per_class, derive_seed(seed, "from-scratch"), n_classes)


def train_from_scratch(model, source, indices, cfg: dict, seed: int = 0, device="cpu", num_workers: int = 0,
                       progress: bool = True) -> list[dict]:
    """Train ``model`` on the images ``indices`` of ``source``. ``cfg``: epochs, batch_size, lr, momentum,
    weight_decay, warmup_epochs, image_size. Returns the per-epoch history."""
    train_tf, _ = transforms(cfg["image_size"])
    data = LabelledImages(source, train_tf, np.asarray(indices))
    gen = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(data, batch_size=cfg["batch_size"], shuffle=True, generator=gen,
                                         num_workers=num_workers, drop_last=len(data) > cfg["batch_size"],
                                         persistent_workers=num_workers > 0)
    model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                          weight_decay=cfg["weight_decay"], nesterov=True)
    steps = cfg["epochs"] * len(loader)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_lambda(steps, cfg["warmup_epochs"] * len(loader)))
    history = []
    for epoch in tqdm(range(cfg["epochs"]), desc="from scratch", disable=not progress, unit="epoch"):
        total, seen = 0.0, 0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(y)
            seen += len(y)
        history.append({"epoch": epoch + 1, "loss": total / max(1, seen), "lr": sched.get_last_lr()[0]})
    return history


@torch.no_grad()
def evaluate_model(model, source, image_size: int, device="cpu", batch_size: int = 256, num_workers: int = 0,
                   progress: bool = True) -> dict:
    _, eval_tf = transforms(image_size)
    loader = torch.utils.data.DataLoader(LabelledImages(source, eval_tf), batch_size=batch_size,
                                         num_workers=num_workers)
    model.to(device).eval()
    logits = [model(x.to(device)).float().cpu() for x, _ in tqdm(loader, desc="test", disable=not progress)]
    return metrics_from_logits(torch.cat(logits), source.labels)
