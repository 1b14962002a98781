"""Table 4's from-scratch training: subsets per class, a timm model that learns, unknown names refused."""

import numpy as np
import pytest
import torch

from synrec.errors import SynrecError
from synrec.from_scratch import build_model, evaluate_model, per_class_subset, train_from_scratch

from test_frozen_bn import _split

CFG = {"epochs": 6, "batch_size": 16, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "warmup_epochs": 1,
       "image_size": 32}


def test_subsets_take_k_per_class_reproducibly():
    labels = np.repeat(np.arange(5), 10)
    a = per_class_subset(labels, 3, 1, 5)
    assert np.bincount(labels[a]).tolist() == [3] * 5
    assert np.array_equal(a, per_class_subset(labels, 3, 1, 5)) and not np.array_equal(a, per_class_subset(labels, 3, 2, 5))
    assert len(per_class_subset(labels, 20, 1, 5)) == 50  # a class with fewer gives all it has


def test_a_random_resnet_learns_the_shapes_and_is_reproducible():
    torch.set_num_threads(2)
    train, test = _split(16, 0, "train"), _split(8, 1, "test")
    model = build_model("resnet10t", 4, seed=0)
    hist = train_from_scratch(model, train, np.arange(len(train)), CFG, seed=0, progress=False)
    assert len(hist) == 6 and hist[-1]["loss"] < hist[0]["loss"]
    assert evaluate_model(model, test, 32, progress=False)["acc1"] > 50.0  # chance is 25
    again = build_model("resnet10t", 4, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(build_model("resnet10t", 4, seed=0).state_dict().values(),
                                                 again.state_dict().values()))


def test_an_unknown_model_name_is_one_line():
    with pytest.raises(SynrecError, match="'resnet5000' is not a timm model name"):
        build_model("resnet5000", 10, 0)
