"""VOC detection transfer: the VOCdevkit reader (difficult boxes, flips), AP50 against known answers, and a Faster
R-CNN on a pre-trained timm backbone that trains."""

import numpy as np
import pytest
import torch

from synrec.demo_data import write_voc
from synrec.detection import VOC_CLASSES, VOCBoxes, build_detector, collate, detection_loss, evaluate_ap50
from synrec.errors import SynrecError
from synrec.pretrain import backbone_state, create
from synrec.training import SeededAugment, train_loop

CFG = {"min_size": 64, "max_size": 64, "fpn_channels": 32, "norm": "train"}


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    return write_voc(tmp_path_factory.mktemp("voc"), VOC_CLASSES, {"trainval": 16, "test": 12}, size=64, seed=0)


def test_reader_drops_difficult_boxes_in_training_and_marks_them_in_the_test_set(voc):
    test = VOCBoxes(voc, [("2007", "test")], train=False)
    hard = [t for t in (test.target(i) for i in range(len(test))) if t["iscrowd"].sum() > 0]
    assert hard  # every third object of a test image is marked difficult
    as_train = VOCBoxes(voc, [("2007", "test")], train=True)
    for i in range(len(test)):
        t, tr = test.target(i), as_train.target(i)
        assert len(tr["boxes"]) == int((t["iscrowd"] == 0).sum())
        assert torch.equal(tr["boxes"], t["boxes"][t["iscrowd"] == 0])
    with pytest.raises(SynrecError, match="ImageSets/Main/val.txt not found"):
        VOCBoxes(voc, [("2007", "val")], train=True)


def test_a_flip_mirrors_the_boxes_with_the_pixels(voc):
    data = VOCBoxes(voc, [("2007", "trainval")], train=True)
    img, tgt = data[0]
    boxes = tgt["boxes"]
    for seed in range(20):  # find a sample whose seeded coin says flip
        aug = SeededAugment(data, seed)
        fimg, ftgt = aug[0]
        if not torch.equal(fimg, img):
            break
    assert torch.equal(fimg, img.flip(-1))
    w = img.shape[-1]
    assert torch.allclose(ftgt["boxes"][:, [0, 2]], w - boxes[:, [2, 0]])
    assert torch.equal(ftgt["boxes"][:, [1, 3]], boxes[:, [1, 3]])


class _Oracle(torch.nn.Module):
    """Predicts the ground truth (optionally with wrong labels or shifted boxes): AP50 has a known value."""

    def __init__(self, data, mode):
        super().__init__()
        self.targets = [data.target(i) for i in range(len(data))]
        self.mode, self.i = mode, 0

    def forward(self, images):
        out = []
        for _ in images:
            t = self.targets[self.i]
            self.i += 1
            boxes, labels = t["boxes"].clone(), t["labels"].clone()
            if self.mode == "wrong-class":
                labels = labels % 20 + 1
            if self.mode == "shifted":
                boxes[:, [0, 2]] += (boxes[:, 2:3] - boxes[:, 0:1])  # moved by its width: IoU 0
            out.append({"boxes": boxes, "labels": labels, "scores": torch.ones(len(labels))})
        return out


def test_ap50_is_100_for_the_truth_and_0_for_wrong_classes_or_places(voc):
    test = VOCBoxes(voc, [("2007", "test")], train=False)
    truth = evaluate_ap50(_Oracle(test, "truth"), test, batch_size=4, progress=False)
    assert truth["ap50"] == 100.0 and truth["ap50_ci95"] == [100.0, 100.0]  # every resample is perfect too
    assert evaluate_ap50(_Oracle(test, "wrong-class"), test, batch_size=4, progress=False)["ap50"] == 0.0
    assert evaluate_ap50(_Oracle(test, "shifted"), test, batch_size=4, progress=False)["ap50"] == 0.0


def test_faster_rcnn_gets_the_pretrained_backbone_and_trains(voc):
    torch.set_num_threads(2)
    pre = create("resnet10t", 5, seed=4)
    det = build_detector("resnet10t", {}, backbone_state(pre), CFG, seed=0)
    body = det.backbone.body.state_dict()
    assert all(torch.equal(body[k], v) for k, v in backbone_state(pre).items())
    train = VOCBoxes(voc, [("2007", "trainval")], train=True)
    cfg = {"epochs": 3, "batch_size": 4, "optimizer": "momentum", "lr": 0.01, "momentum": 0.9,
           "weight_decay": 1e-4, "warmup_epochs": 0}
    hist = train_loop(det, SeededAugment(train, 0), detection_loss, cfg, 0, progress=False, collate_fn=collate)
    assert len(hist) == 3 and hist[-1]["loss"] < hist[0]["loss"] and np.isfinite(hist[-1]["loss"])
    frozen = build_detector("resnet10t", {}, None, {**CFG, "norm": "frozen"}, seed=0)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in frozen.backbone.body.modules())
