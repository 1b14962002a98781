"""Table 4: a ResNet-50 trained from random initialisation on synthetic images, against real subsets.

The paper trains ResNet-50 from scratch on 50k synthetic CIFAR-100 images (500 per class; 28.74% top-1) and on
real subsets of 1 … 100 images per class, to see how many real images the synthetic set is worth (about 95). It
gives no training recipe. Here: a timm model (``timm.create_model(name, pretrained=False)``), timm's training and
eval transforms at ``image_size``, SGD with momentum and a per-step cosine schedule with warm-up, the model after
the last epoch tested on the real test split. Images stream from the HDF5 image store (or the dataset's files)
through a DataLoader; nothing is loaded whole. Training checkpoints regularly and resumes after a kill.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
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


class _SeededAugment(torch.utils.data.Dataset):
    """Each sample's random augmentation is seeded from (seed, epoch, sample): the same crops on a resumed run and
    with any number of DataLoader workers."""

    def __init__(self, data, seed: int):
        self.data, self.seed, self.epoch = data, seed, 0

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        s = derive_seed(self.seed, "augment", self.epoch, int(i))
        random.seed(s)
        torch.manual_seed(s)
        return self.data[i]


def train_from_scratch(model, source, indices, cfg: dict, seed: int = 0, device="cpu", num_workers: int = 0,
                       progress: bool = True, checkpoint: str | Path | None = None, checkpoint_every: int = 0,
                       on_step=None) -> list[dict]:
    """Train ``model`` on the images ``indices`` of ``source``. ``cfg``: epochs, batch_size, lr, momentum,
    weight_decay, warmup_epochs, image_size. Returns the per-epoch history.

    With ``checkpoint``, the state (model, optimiser, schedule, position, losses) is saved there every
    ``checkpoint_every`` steps and at every epoch end, and a run that finds one resumes from it: the shuffles and
    augmentations depend only on (seed, epoch, sample), so a resumed run takes exactly the steps an uninterrupted
    one would. ``on_step(step, loss)`` is called after every optimiser step (tests use it)."""
    train_tf, _ = transforms(cfg["image_size"])
    data = _SeededAugment(LabelledImages(source, train_tf, np.asarray(indices)), seed)
    bs, n = cfg["batch_size"], len(data)
    per_epoch = max(1, n // bs) if n > bs else 1  # drop the last partial batch when there is more than one
    model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                          weight_decay=cfg["weight_decay"], nesterov=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_lambda(cfg["epochs"] * per_epoch,
                                                                 cfg["warmup_epochs"] * per_epoch))
    state = {"epoch": 0, "step_in_epoch": 0, "history": [], "epoch_loss": 0.0, "epoch_seen": 0}
    saved = load_checkpoint(checkpoint)
    if saved is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])
        state = saved["position"]
        print(f"resumed from {checkpoint}: epoch {state['epoch'] + 1}, step {state['step_in_epoch']}")

    def save():
        if checkpoint is not None:
            save_checkpoint(checkpoint, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                         "scheduler": sched.state_dict(), "position": dict(state)})

    for epoch in tqdm(range(state["epoch"], cfg["epochs"]), desc="from scratch", disable=not progress, unit="epoch"):
        data.epoch = epoch
        order = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(seed, "epoch", epoch)))
        order = order[: per_epoch * bs].tolist()[state["step_in_epoch"] * bs:]
        loader = torch.utils.data.DataLoader(data, batch_size=bs, sampler=order, num_workers=num_workers)
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            state["epoch_loss"] += float(loss.detach()) * len(y)
            state["epoch_seen"] += len(y)
            state["step_in_epoch"] += 1
            if on_step is not None:
                on_step(epoch * per_epoch + state["step_in_epoch"], float(loss.detach()))
            if checkpoint_every and state["step_in_epoch"] % checkpoint_every == 0:
                save()
        state["history"].append({"epoch": epoch + 1, "loss": state["epoch_loss"] / max(1, state["epoch_seen"]),
                                  "lr": sched.get_last_lr()[0]})
        state.update(epoch=epoch + 1, step_in_epoch=0, epoch_loss=0.0, epoch_seen=0)
        save()
    return state["history"]


@torch.no_grad()
def evaluate_model(model, source, image_size: int, device="cpu", batch_size: int = 256, num_workers: int = 0,
                   progress: bool = True) -> dict:
    _, eval_tf = transforms(image_size)
    loader = torch.utils.data.DataLoader(LabelledImages(source, eval_tf), batch_size=batch_size,
                                         num_workers=num_workers)
    model.to(device).eval()
    logits = [model(x.to(device)).float().cpu() for x, _ in tqdm(loader, desc="test", disable=not progress)]
    return metrics_from_logits(torch.cat(logits), source.labels)
