"""Pre-training a backbone on synthetic images (Tables 8–11): supervised or MoCo v2, from random or IN-1k weights.

* **Backbones** are timm models by name (``resnet50``, ``deit_small_patch16_224``; the demo uses tiny ones), built
  with random weights and optionally initialised from "IN-1k" weights: ``timm:<name>`` (timm's pretrained weights,
  through the Hugging Face cache, so ``HF_HOME`` and offline mode hold) or a checkpoint file (a state dict, possibly
  under ``state_dict``/``model``/``backbone``, with ``module.``/``encoder_q.`` prefixes stripped, so the official
  MoCo v2 checkpoints load). Only classifier weights may be missing; anything else is a one-line error.
* **Supervised**: cross-entropy over the label space with timm's training transform.
* **MoCo v2**: :class:`synrec.moco.MoCo` on the backbone's pooled features, two v2-augmented views per image; the
  labels are never read.
* The job: :func:`run` in every data-parallel process (:func:`synrec.distributed.launch`); the loop checkpoints and
  resumes (:mod:`synrec.training`); rank 0 writes the backbone (classifier removed) with its provenance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_path
from .errors import SynrecError
from .features import LabelledImages
from .models import timm_model
from .training import RepeatedViews, SeededAugment, classification_step, train_loop

_PREFIXES = ("module.", "encoder_q.0.", "encoder_q.", "backbone.")


create = timm_model  # a randomly initialised timm backbone by name


def _head_keys(model) -> set[str]:
    head = model.pretrained_cfg.get("classifier", "fc")
    heads = head if isinstance(head, (list, tuple)) else [head]
    return {k for k in model.state_dict() if any(k == h or k.startswith(h + ".") for h in heads)}


def read_weights(spec: str) -> dict:
    """The state dict named by ``spec``: ``timm:<name>`` or a file; prefixes stripped."""
    if spec.startswith("timm:"):
        import timm

        try:
            sd = timm.create_model(spec.removeprefix("timm:"), pretrained=True).state_dict()
        except Exception as exc:  # unknown tag, or not in the cache while offline
            raise SynrecError(f"IN-1k weights {spec!r}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
        return sd
    path = Path(spec)
    if not path.is_file():
        raise SynrecError(f"IN-1k weights {spec!r}: no such file (expected timm:<name> or a checkpoint file)")
    sd = torch.load(path, map_location="cpu", weights_only=False)
    for key in ("state_dict", "model", "backbone"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
            break
    out = {}
    for k, v in sd.items():
        if k.startswith("encoder_k.") or k.startswith("module.encoder_k.") or k in ("queue", "queue_ptr", "ptr"):
            continue  # MoCo's key encoder and queue
        for p in _PREFIXES:
            if k.startswith(p):
                k = k[len(p):]
        out[k] = v
    return out


def load_backbone(model, spec: str | Path | dict) -> None:
    """Load encoder weights into ``model``; the classifier keeps its fresh weights. Missing or misshapen encoder
    weights are an error naming the first one."""
    sd = spec if isinstance(spec, dict) else read_weights(str(spec))
    heads = _head_keys(model)
    own = model.state_dict()
    sd = {k: v for k, v in sd.items() if k not in heads and k in own}
    missing = [k for k in own if k not in heads and k not in sd]
    wrong = [k for k, v in sd.items() if tuple(v.shape) != tuple(own[k].shape)]
    name = spec if not isinstance(spec, dict) else "state dict"
    if missing:
        raise SynrecError(
            f"weights {name}: {len(missing)} encoder tensors missing for this model (first: {missing[0]})"
        )
    if wrong:
        raise SynrecError(f"weights {name}: {wrong[0]} has shape {tuple(sd[wrong[0]].shape)}, "
                          f"the model wants {tuple(own[wrong[0]].shape)}")
    model.load_state_dict(sd, strict=False)


def backbone_state(model) -> dict:
    heads = _head_keys(model)
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if k not in heads}


class TwoViews(torch.utils.data.Dataset):
    def __init__(self, source, transform, indices):
        self.source, self.transform, self.indices = source, transform, np.asarray(indices)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        img = self.source.image(int(self.indices[i]))
        return [self.transform(img), self.transform(img)], torch.zeros((), dtype=torch.long)


def _moco_loss(module, batch):
    (im_q, im_k), _ = batch
    return module(im_q, im_k)


def build(method: str, name: str, n_classes: int, cfg: dict, seed: int, kwargs: dict | None = None,
          init: str | None = None):
    """(model to train, the backbone inside it) for ``method`` in {supervised, mocov2}."""
    if method == "supervised":
        if cfg.get("drop_path", 0) > 0:  # stochastic depth (DeiT: 0.1)
            kwargs = {**(kwargs or {}), "drop_path_rate": cfg["drop_path"]}
        model = create(name, n_classes, seed, kwargs)
        if init:
            load_backbone(model, init)
        return model, model
    if method == "mocov2":
        from .moco import MoCo

        backbone = create(name, 0, seed, kwargs)  # num_classes=0: pooled features
        if init:
            load_backbone(backbone, init)
        moco = MoCo(backbone, backbone.num_features, dim=cfg["dim"], queue_size=cfg["queue"], momentum=cfg["m"],
                    temperature=cfg["temperature"], seed=seed, shuffle_bn=cfg.get("shuffle_bn", True),
                    bn_splits=cfg.get("bn_splits", 8))
        return moco, backbone
    raise SynrecError(f"pre-training method {method!r}: expected supervised or mocov2")


def dataset(method: str, source, cfg: dict, seed: int):
    indices = np.arange(len(source))
    if method == "mocov2":
        from .moco import moco_v2_transform

        return SeededAugment(TwoViews(source, moco_v2_transform(cfg["image_size"]), indices), seed)
    from timm.data import create_transform

    # timm's train transform; DeiT's recipe adds RandAugment and random erasing, bicubic and per-pixel noise fill
    train = create_transform(cfg["image_size"], is_training=True, auto_augment=cfg.get("auto_augment"),
                             interpolation=cfg.get("interpolation") or "bilinear", re_prob=cfg.get("re_prob", 0.0),
                             re_mode=cfg.get("re_mode") or "const")
    images = LabelledImages(source, train, indices)
    r = int(cfg.get("repeated_aug", 1))
    return SeededAugment(RepeatedViews(images, r) if r > 1 else images, seed)


def run(job: dict) -> None:
    """One pre-training job, in each data-parallel process. ``job``: method, model, kwargs, init, n_classes, cfg,
    seed, lists (shards per class list with label offsets), per_class, checkpoint, checkpoint_every, num_workers,
    out, meta."""
    from .distributed import device, is_main
    from .pretrain_data import ShardedImages

    source = ShardedImages(job["lists"], job["per_class"])
    cfg = job["cfg"]
    model, backbone = build(job["method"], job["model"], job["n_classes"], cfg, job["seed"], job["kwargs"],
                            job["init"])
    if is_main():
        print(f"{job['method']} {job['model']}: {len(source)} images of {job['n_classes']} classes "
              f"({job['per_class']} per class), init {job['init'] or 'random'}")
    history = train_loop(model, dataset(job["method"], source, cfg, job["seed"]),
                         _moco_loss if job["method"] == "mocov2" else classification_step(cfg, job["n_classes"]),
                         cfg, job["seed"], device(),
                         job["num_workers"], checkpoint=job["checkpoint"], checkpoint_every=job["checkpoint_every"],
                         desc=f"pretrain {job['method']}")
    if is_main():
        with atomic_path(job["out"]) as tmp:
            torch.save({"backbone": backbone_state(backbone), "model": job["model"], "kwargs": job["kwargs"],
                        "history": history, "images": len(source), "fingerprint": source.fingerprint(),
                        "flagged_dropped": source.n_flagged_dropped,
                        **job["meta"]}, tmp)
