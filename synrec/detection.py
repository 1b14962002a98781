"""PASCAL VOC detection transfer (Tables 10–11): Faster R-CNN on a pre-trained backbone, AP50 on VOC2007 test.

* **Data**: torchvision's ``VOCDetection`` format (``<root>/VOCdevkit/VOC<year>/{JPEGImages,Annotations,
  ImageSets/Main/<set>.txt}``); the paper's protocol trains on VOC07+12 trainval and tests on VOC07 test. Boxes
  marked *difficult* are left out of training and ignored in the evaluation (as VOC's own evaluation does).
* **Model**: torchvision's ``FasterRCNN`` with an FPN over the last four stages of the timm backbone
  (``features_only``), so the very backbone pre-trained in :mod:`synrec.pretrain` (same parameter names) is
  fine-tuned. BN in the backbone: ``frozen``, ``train`` or ``sync`` (SyncBatchNorm across data-parallel processes,
  as MoCo's detection protocol).
* **Metric**: torchmetrics' ``MeanAveragePrecision`` at IoU 0.5 (COCO-style 101-point interpolation; VOC2007's
  official metric is 11-point, which reads slightly lower).
* Training goes through :func:`synrec.training.train_loop` (checkpoints, resume, data parallel); horizontal flips
  are seeded per (seed, epoch, image).
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn as nn
from PIL import Image
from torchvision.datasets import VOCDetection
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool
from torchvision.transforms.functional import hflip, pil_to_tensor
from tqdm import tqdm

from .errors import SynrecError

VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
               "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor"]


class VOCBoxes(torch.utils.data.Dataset):
    """One or more VOC image sets as ``(image tensor, {boxes, labels, iscrowd})``; labels 1..20 (0: background)."""

    def __init__(self, root: str | Path, sets: list[tuple[str, str]], train: bool):
        self.parts, self.train = [], train
        for year, image_set in sets:
            folder = Path(root) / "VOCdevkit" / f"VOC{year}"
            listing = folder / "ImageSets" / "Main" / f"{image_set}.txt"
            if not listing.is_file():
                raise SynrecError(
                    f"VOC data: {listing} not found (expected torchvision's VOCdevkit layout under {root})"
                )
            self.parts.append(VOCDetection(str(root), year=str(year), image_set=image_set, download=False))
        self.index = [(p, i) for p, ds in enumerate(self.parts) for i in range(len(ds))]

    def __len__(self):
        return len(self.index)

    def target(self, i: int) -> dict:
        p, j = self.index[i]
        ds = self.parts[p]
        objs = ds.parse_voc_xml(ET.parse(ds.annotations[j]).getroot())["annotation"].get("object", [])
        objs = objs if isinstance(objs, list) else [objs]
        boxes, labels, difficult = [], [], []
        for o in objs:
            if o["name"] not in VOC_CLASSES:
                raise SynrecError(f"{ds.annotations[j]}: unknown VOC class {o['name']!r}")
            hard = int(o.get("difficult", "0")) == 1
            if hard and self.train:
                continue
            b = o["bndbox"]
            boxes.append([float(b["xmin"]) - 1, float(b["ymin"]) - 1, float(b["xmax"]), float(b["ymax"])])
            labels.append(VOC_CLASSES.index(o["name"]) + 1)
            difficult.append(int(hard))
        return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                "labels": torch.tensor(labels, dtype=torch.int64),
                "iscrowd": torch.tensor(difficult, dtype=torch.int64)}

    def __getitem__(self, i):
        p, j = self.index[i]
        img = pil_to_tensor(Image.open(self.parts[p].images[j]).convert("RGB")).float() / 255.0
        tgt = self.target(i)
        if self.train and random.random() < 0.5:  # seeded per (seed, epoch, image) by SeededAugment
            img = hflip(img)
            w = img.shape[-1]
            tgt["boxes"] = tgt["boxes"][:, [2, 1, 0, 3]] * torch.tensor([-1, 1, -1, 1]) + torch.tensor([w, 0, w, 0])
        return img, tgt


def collate(batch):
    return [b[0] for b in batch], [b[1] for b in batch]


class TimmFPN(nn.Module):
    """A timm backbone's last four stages under torchvision's FeaturePyramidNetwork (+ max-pool level)."""

    def __init__(self, body: nn.Module, out_channels: int = 256):
        super().__init__()
        self.body = body
        self.fpn = FeaturePyramidNetwork(body.feature_info.channels(), out_channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = out_channels

    def forward(self, x):
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(self.body(x))))


def build_detector(name: str, kwargs: dict | None, weights, cfg: dict, seed: int):
    """Faster R-CNN (21 classes) on timm model ``name``'s features, encoder weights from ``weights`` (a state dict,
    a checkpoint file, ``timm:<name>``) or random when None. ``cfg``: min_size, max_size, fpn_channels, norm."""
    import timm
    from torchvision.models.detection import FasterRCNN

    from .pretrain import load_backbone

    if not timm.is_model(name):
        raise SynrecError(f"detection backbone {name!r} is not a timm model name")
    torch.manual_seed(seed)
    body = timm.create_model(name, pretrained=False, features_only=True, out_indices=(-4, -3, -2, -1),
                             **(kwargs or {}))
    if weights is not None:
        load_backbone(body, weights)
    if cfg["norm"] == "frozen":
        from timm.layers import freeze_batch_norm_2d

        body = freeze_batch_norm_2d(body)
    model = FasterRCNN(TimmFPN(body, cfg["fpn_channels"]), num_classes=len(VOC_CLASSES) + 1,
                       min_size=cfg["min_size"], max_size=cfg["max_size"])
    if cfg["norm"] == "sync" and torch.distributed.is_available() and torch.distributed.is_initialized():
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def detection_loss(module, batch):
    images, targets = batch
    return sum(module(images, targets).values())


@torch.no_grad()
def evaluate_ap50(model, data: VOCBoxes, device="cpu", batch_size: int = 8, num_workers: int = 0,
                  progress: bool = True) -> dict:
    """AP50 (%) over the 20 classes, difficult boxes ignored."""
    from torchmetrics.detection import MeanAveragePrecision

    from .ap50 import ap50_interval, match

    metric = MeanAveragePrecision(iou_type="bbox", iou_thresholds=[0.5], backend="pycocotools")
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, num_workers=num_workers, collate_fn=collate)
    model.to(device).eval()
    all_preds, all_targets = [], []
    for images, targets in tqdm(loader, desc="VOC test", disable=not progress):
        preds = [{k: v.cpu() for k, v in p.items()} for p in model([im.to(device) for im in images])]
        metric.update(preds, targets)
        all_preds += preds
        all_targets += targets
    res = metric.compute()
    lo, hi = ap50_interval(match(all_preds, all_targets))  # over the test images (synrec.ap50)
    return {"ap50": round(100 * max(0.0, float(res["map_50"])), 2), "ap50_ci95": [round(lo, 2), round(hi, 2)],
            "n_test": len(data)}
