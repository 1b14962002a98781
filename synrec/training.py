"""The one training loop behind Table 4 (from scratch), the pre-training jobs (supervised, MoCo v2) and the CIFAR-100
transfer: epochs of shuffled batches, a per-step cosine schedule with warm-up, checkpoints that survive a kill, and
data-parallel training across the processes of a job.

* **Reproducible and resumable.** The shuffle of epoch ``e`` is seeded from (seed, e) and every sample's
  augmentation from (seed, e, sample) (:class:`SeededAugment`), so a run resumed from a checkpoint takes exactly the
  steps an uninterrupted one would. The checkpoint (model, optimiser, schedule, position, running losses) is
  written every ``checkpoint_every`` steps and at each epoch end, by write-then-rename.
* **Data parallel.** When ``torch.distributed`` is initialised (:mod:`synrec.distributed`), the model is wrapped in
  ``DistributedDataParallel`` and each of the ``W`` ranks takes ``batch_size / W`` samples of every global batch;
  rank 0 alone writes checkpoints; every rank resumes from the same file.
* **Optimiser** from timm (``create_optimizer_v2``: ``sgd`` is SGD with Nesterov momentum, ``momentum`` plain SGD
  with momentum as MoCo uses, ``adamw`` as DeiT uses; no weight decay on biases and norm layers).
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .classifier_tuning import cosine_lambda
from .distributed import barrier, is_main, rank_and_world
from .errors import SynrecError
from .seeds import derive_seed


class SeededAugment(torch.utils.data.Dataset):
    """Seeds Python's and torch's RNGs from (seed, epoch, sample) before each sample's transform: the same crops on
    a resumed run and with any number of DataLoader workers or ranks."""

    def __init__(self, data, seed: int):
        self.data, self.seed, self.epoch = data, seed, 0

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        s = derive_seed(self.seed, "augment", self.epoch, int(i))
        random.seed(s)
        torch.manual_seed(s)
        return self.data[i]


class RepeatedViews(torch.utils.data.Dataset):
    """``r`` views of every item: view ``j`` is item ``j // r``. Under :class:`SeededAugment` each view gets its own
    augmentation seed (repeated augmentation)."""

    def __init__(self, data, r: int):
        self.data, self.r = data, r

    def __len__(self):
        return len(self.data) * self.r

    def __getitem__(self, j):
        return self.data[j // self.r]


class MixupStep:
    """A classification step under timm's Mixup/CutMix with label smoothing and soft-target cross-entropy (DeiT)."""

    def __init__(self, mixup: float, cutmix: float, label_smoothing: float, n_classes: int):
        from timm.data import Mixup
        from timm.loss import SoftTargetCrossEntropy

        self.mix = Mixup(mixup_alpha=mixup, cutmix_alpha=cutmix, label_smoothing=label_smoothing,
                         num_classes=n_classes)
        self.loss = SoftTargetCrossEntropy()

    def __call__(self, module, batch):
        x, y = batch
        x, target = self.mix(x, y)
        return self.loss(module(x), target)


def classification_step(cfg: dict, n_classes: int):
    """The step loss a supervised recipe asks for: Mixup/CutMix with soft targets, label-smoothed or plain CE."""
    if cfg.get("mixup", 0) > 0 or cfg.get("cutmix", 0) > 0:
        return MixupStep(cfg.get("mixup", 0), cfg.get("cutmix", 0), cfg.get("label_smoothing", 0), n_classes)
    if cfg.get("label_smoothing", 0) > 0:
        ls = cfg["label_smoothing"]
        return lambda module, batch: torch.nn.functional.cross_entropy(module(batch[0]), batch[1], label_smoothing=ls)
    return cross_entropy_step


def cross_entropy_step(module, batch):
    """The loss of a supervised classification batch ``(images, labels)``."""
    x, y = batch
    return torch.nn.functional.cross_entropy(module(x), y)


def _to(obj, device):
    """Tensors, and tensors nested in lists/tuples/dicts (detection targets), moved to ``device``."""
    if torch.is_tensor(obj):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to(v, device) for v in obj]
    return obj


def _optimizer(model, cfg: dict):
    from timm.optim import create_optimizer_v2

    return create_optimizer_v2(model, opt=cfg.get("optimizer", "sgd"), lr=cfg["lr"],
                               weight_decay=cfg["weight_decay"], momentum=cfg.get("momentum", 0.9))


def train_loop(model, data: SeededAugment, step_loss, cfg: dict, seed: int = 0, device="cpu", num_workers: int = 0,
               progress: bool = True, checkpoint: str | Path | None = None, checkpoint_every: int = 0, on_step=None,
               desc: str = "train", collate_fn=None) -> list[dict]:
    """Train ``model`` on ``data``; ``step_loss(module, batch)`` gives a batch's loss. ``cfg``: epochs, batch_size
    (global, over all ranks), lr, weight_decay, warmup_epochs, optionally optimizer, momentum, amp (bfloat16
    autocast on CUDA), repeated_aug. Returns the per-epoch history ``[{epoch, loss, lr}]`` (loss averaged on this
    rank). ``on_step(step, loss)`` is called after every optimiser step (tests use it).

    With ``repeated_aug`` = r > 1 (DeiT's repeated augmentation) ``data`` holds r views of every image
    (:class:`RepeatedViews`); an epoch is as long as the image count and takes 1/r of the images, each r times in a
    row, so the views of one image share a batch. numpy's and torch's global RNGs are seeded per (seed, epoch,
    step), so what a step draws (Mixup, drop-path, proposal sampling) is the same after a resume."""
    device = torch.device(device)
    rank, world = rank_and_world()
    r = int(cfg.get("repeated_aug", 1))
    bs, n = cfg["batch_size"], len(data) // r
    if bs % world:
        raise SynrecError(f"batch_size {bs} is not divisible by the {world} processes of the job (one per GPU)")
    per_rank = bs // world
    if world > 1 and n < bs:  # a rank without a batch would leave the others waiting in DDP's all-reduce
        raise SynrecError(f"{n} training samples are fewer than one global batch ({bs}) over {world} processes")
    per_epoch = max(1, n // bs) if n > bs else 1  # drop the last partial batch when there is more than one
    model.to(device).train()
    module = model
    if world > 1:
        ids = [device.index] if device.type == "cuda" else None
        module = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    opt = _optimizer(model, cfg)
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
    amp = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and cfg.get("amp", True)
           else contextlib.nullcontext())

    def save():
        if checkpoint is not None and is_main():
            save_checkpoint(checkpoint, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                         "scheduler": sched.state_dict(), "position": dict(state)})
        barrier()

    for epoch in tqdm(range(state["epoch"], cfg["epochs"]), desc=desc, disable=not (progress and is_main()),
                      unit="epoch"):
        data.epoch = epoch
        order = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(seed, "epoch", epoch)))
        if r > 1:  # the r views of each image in a row, as many samples as images
            order = (order[:, None] * r + torch.arange(r)).reshape(-1)[:n]
        batches = order[: per_epoch * bs].view(per_epoch, -1)[state["step_in_epoch"]:]
        mine = batches[:, rank * per_rank : (rank + 1) * per_rank].reshape(-1).tolist()
        loader = torch.utils.data.DataLoader(data, batch_size=per_rank, sampler=mine, num_workers=num_workers,
                                             pin_memory=device.type == "cuda", collate_fn=collate_fn)
        for batch in tqdm(loader, desc=f"epoch {epoch + 1}", leave=False, disable=not (progress and is_main())):
            batch = _to(batch, device)
            step_seed = derive_seed(seed, "step", epoch, state["step_in_epoch"])
            np.random.seed(step_seed % 2**32)
            torch.manual_seed(step_seed)
            with amp:
                loss = step_loss(module, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            k = len(batch[-1])
            state["epoch_loss"] += float(loss.detach()) * k
            state["epoch_seen"] += k
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
