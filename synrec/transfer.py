"""Transfer of a (synthetically) pre-trained backbone: fine-tuning on CIFAR-100 (Tables 8–9) and Faster R-CNN on
PASCAL VOC (Tables 10–11). Each cell of those tables is one :func:`run_cifar` or :func:`run_voc` job.

A job starts from the backbone a pre-training job wrote, from "IN-1k" weights (``timm:<tag>`` or a checkpoint
file), or from random weights (the "(None)" rows); the whole network is then fine-tuned with
:func:`synrec.training.train_loop` (data parallel over the job's GPUs, checkpoints, resume). Rank 0 writes the
result record: the job's ``record`` (provenance, filled in by the rule's script) plus the metrics and history.
"""

from __future__ import annotations

import datetime

import numpy as np

from .atomic import write_json
from .training import SeededAugment, cross_entropy_step, train_loop


def _weights(job: dict):
    return job["backbone"] or job["init"]  # a pre-trained backbone file, IN-1k weights, or None (random)


def _finish(job: dict, metrics: dict, history: list, n_train: int) -> None:
    rec = dict(job["record"], metrics=metrics, history=history, n_train=n_train,
               created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    write_json(job["out"], rec)


def run_cifar(job: dict) -> None:
    """``job``: model, kwargs, backbone, init, dataset (config), data_root, train_split, cfg, seed, num_workers,
    checkpoint, checkpoint_every, record, out."""
    from .datasets import load_split
    from .distributed import device, is_main
    from .features import LabelledImages
    from .from_scratch import evaluate_model, transforms
    from .pretrain import create, load_backbone

    ds, cfg = job["dataset"], job["cfg"]
    train = load_split(ds, job["data_root"], job["train_split"])
    model = create(job["model"], len(ds["classnames"]), job["seed"], job["kwargs"])
    if _weights(job) is not None:
        load_backbone(model, _weights(job))
    data = SeededAugment(LabelledImages(train, transforms(cfg["image_size"])[0], np.arange(len(train))), job["seed"])
    history = train_loop(model, data, cross_entropy_step, cfg, job["seed"], device(), job["num_workers"],
                         checkpoint=job["checkpoint"], checkpoint_every=job["checkpoint_every"], desc="fine-tune")
    if is_main():
        test = load_split(ds, job["data_root"], ds["test_split"])
        metrics = evaluate_model(model, test, cfg["image_size"], device(), cfg["batch_size"], job["num_workers"])
        print(f"{ds['name']} top-1 {metrics['acc1']:.2f}")
        _finish(job, metrics, history, len(train))


def run_voc(job: dict) -> None:
    """``job``: model, kwargs, backbone, init, root, train_sets, test_set, cfg, seed, num_workers, checkpoint,
    checkpoint_every, record, out."""
    from .detection import VOCBoxes, build_detector, collate, detection_loss, evaluate_ap50
    from .distributed import device, is_main

    cfg = job["cfg"]
    train = VOCBoxes(job["root"], [tuple(s) for s in job["train_sets"]], train=True)
    model = build_detector(job["model"], job["kwargs"], _weights(job), cfg, job["seed"])
    history = train_loop(model, SeededAugment(train, job["seed"]), detection_loss, cfg, job["seed"], device(),
                         job["num_workers"], checkpoint=job["checkpoint"], checkpoint_every=job["checkpoint_every"],
                         desc="VOC fine-tune", collate_fn=collate)
    if is_main():
        test = VOCBoxes(job["root"], [tuple(job["test_set"])], train=False)
        metrics = evaluate_ap50(model, test, device(), max(1, cfg["batch_size"] // 2), job["num_workers"])
        print(f"VOC AP50 {metrics['ap50']:.2f}")
        _finish(job, metrics, history, len(train))
