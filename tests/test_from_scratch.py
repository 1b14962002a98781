"""Table 4's from-scratch training: subsets per class, a timm model that learns, unknown names refused."""

import numpy as np
import pytest
import torch
from test_frozen_bn import _split

from synrec.errors import SynrecError
from synrec.from_scratch import build_model, evaluate_model, per_class_subset, train_from_scratch

CFG = {"epochs": 6, "batch_size": 16, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "warmup_epochs": 1,
       "image_size": 32}


def test_subsets_take_k_per_class_reproducibly():
    labels = np.repeat(np.arange(5), 10)
    names = list("abcde")
    a = per_class_subset(labels, 3, 1, names)
    assert np.bincount(labels[a]).tolist() == [3] * 5
    assert np.array_equal(a, per_class_subset(labels, 3, 1, names))
    assert not np.array_equal(a, per_class_subset(labels, 3, 2, names))
    assert len(per_class_subset(labels, 20, 1, names)) == 50  # a class with fewer gives all it has


def test_a_random_resnet_learns_the_shapes_and_is_reproducible():
    torch.set_num_threads(2)
    train, test = _split(16, 0, "train"), _split(8, 1, "test")
    model = build_model("resnet10t", 4, seed=0)
    hist = train_from_scratch(model, train, np.arange(len(train)), CFG, seed=0, progress=False)
    assert len(hist) == 6 and hist[-1]["loss"] < hist[0]["loss"]
    assert evaluate_model(model, test, 32, progress=False)["acc1"] > 50.0  # chance is 25
    # the same seed trains to the same weights; another seed to other weights
    def trained(seed):
        m = build_model("resnet10t", 4, seed=seed)
        train_from_scratch(m, train, np.arange(len(train)), {**CFG, "epochs": 1}, seed=seed, progress=False)
        return list(m.state_dict().values())

    first, again, other = trained(0), trained(0), trained(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))


def test_an_unknown_model_name_is_one_line():
    with pytest.raises(SynrecError, match="'resnet5000' is not a timm model name"):
        build_model("resnet5000", 10, 0)


KILLED_RUN = """
import os, signal, sys, numpy as np, torch
sys.path[:0] = [{repo!r}, {tests!r}]
from synrec.from_scratch import build_model, train_from_scratch
from test_frozen_bn import _split
torch.set_num_threads(1)
train = _split(8, 0, "train")
def on_step(step, loss):
    print(step, repr(loss), flush=True)
    if step == {kill_at}:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no last checkpoint: as a pre-emption would
train_from_scratch(build_model("resnet10t", 4, 0), train, np.arange(len(train)), {cfg!r}, seed=0, progress=False,
                   checkpoint={ckpt!r}, checkpoint_every=1, on_step=on_step)
"""


def test_a_killed_run_resumes_from_its_checkpoint_with_the_same_next_steps(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    cfg = {**CFG, "epochs": 3, "batch_size": 8}  # 32 images: 4 steps per epoch, 12 in all
    torch.set_num_threads(1)
    train = _split(8, 0, "train")
    uninterrupted = []
    train_from_scratch(build_model("resnet10t", 4, 0), train, np.arange(len(train)), cfg, seed=0, progress=False,
                       on_step=lambda s, loss: uninterrupted.append(loss))
    ckpt = tmp_path / "ckpt.pt"
    tests = Path(__file__).parent
    code = KILLED_RUN.format(repo=str(tests.parent), tests=str(tests), kill_at=6, cfg=cfg, ckpt=str(ckpt))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == -9, out.stderr[-2000:]  # really killed
    before = [float(line.split()[1]) for line in out.stdout.splitlines()]
    assert len(before) == 6 and before == pytest.approx(uninterrupted[:6], rel=1e-5)
    resumed = []
    model = build_model("resnet10t", 4, 0)
    hist = train_from_scratch(model, train, np.arange(len(train)), cfg, seed=0, progress=False, checkpoint=ckpt,
                              checkpoint_every=1, on_step=lambda s, loss: resumed.append((s, loss)))
    # the checkpoint of step 5 was the last one written: the resumed run redoes step 6, then 7 ... 12, as uninterrupted
    assert [s for s, _ in resumed] == list(range(6, 13))
    assert [loss for _, loss in resumed] == pytest.approx(uninterrupted[5:], rel=1e-5)
    assert len(hist) == 3
