"""DataDream (issue 29): a LoRA on the generator trained on one class's shots changes that class's images and no
other's; zero epochs change nothing; the adapters round-trip in diffusers' LoRA format."""

from pathlib import Path

import numpy as np
import pytest
from conftest import SHAPES

from synrec.datadream import (
    LoraSwitch,
    has_lora,
    lora_folders,
    lora_groups,
    lora_steps,
    save_lora,
    shot_prompts,
    train_lora,
)
from synrec.datasets import Split
from synrec.demo_data import make_images
from synrec.errors import SynrecError
from synrec.generation import generate_shard, plan_images
from synrec.models import load_text_to_image
from synrec.stores import ImageStore

GEN = {"num_inference_steps": 4, "guidance_scale": 2.0, "height": 32, "width": 32, "store_size": 32,
       "batch_size": 3}
FAST = {"epochs": 3, "batch_size": 2, "lr": 0.01, "warmup_steps": 0, "rank": 4, "alpha": 4}
PROMPT = "a photo of a {c}"


def _pipe(tiny_models):
    pipe = load_text_to_image({"model": tiny_models["sd"]})
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _shots(label, n=2):
    arr, labels = make_images(SHAPES, n, 32, 0)
    split = Split(dataset="shapes", split="train", labels=labels, array=arr)
    idx = [i for i in range(len(split)) if labels[i] == label]
    return [split.image(i) for i in idx], shot_prompts([label] * len(idx), SHAPES, PROMPT)


def _images(pipe, out, adapter=None):
    plan = plan_images("shapes", [0, 1], [[PROMPT.replace("{c}", c)] for c in SHAPES], 2, 5, SHAPES)
    generate_shard(pipe, plan, out, GEN, {"dataset": "shapes"}, progress=False, adapter=adapter)
    store = ImageStore(out)
    return np.stack([np.asarray(store.image(i)) for i in range(len(store))]), store.labels


def test_groups_steps_and_a_bad_mode():
    assert lora_groups(SHAPES, "per_class") == {"00000": [0], "00001": [1], "00002": [2], "00003": [3]}
    assert lora_groups(SHAPES, "per_dataset") == {"all": [0, 1, 2, 3]}
    with pytest.raises(SynrecError, match="few_shot.datadream.mode"):
        lora_groups(SHAPES, "per_image")
    assert lora_steps({"epochs": 200, "batch_size": 8}, 16) == 400 and lora_steps({"epochs": 200, "batch_size": 8},
                                                                                  1) == 200
    assert lora_folders("r", [2, 3], "per_class") == {2: Path("r/00002"), 3: Path("r/00003")}
    assert set(lora_folders("r", [2, 3], "per_dataset").values()) == {Path("r/all")}


def test_a_class_lora_changes_its_own_images_and_no_others_and_round_trips(tiny_models, tmp_path):
    base, labels = _images(_pipe(tiny_models), tmp_path / "base.h5")
    pipe = _pipe(tiny_models)
    images, prompts = _shots(0)
    history = train_lora(pipe, images, prompts, FAST, 32, seed=1, progress=False)
    assert [h["epoch"] for h in history] == [1, 2, 3] and all(np.isfinite(h["loss"]) for h in history)
    save_lora(pipe, tmp_path / "lora" / "00000")
    (tmp_path / "lora" / "00001").mkdir()  # class 1: zero epochs, no LoRA (the base generator)
    assert has_lora(tmp_path / "lora" / "00000") and not has_lora(tmp_path / "lora" / "00001")
    # generation swaps LoRAs per class; batches of 3 would otherwise mix the two classes
    fresh = _pipe(tiny_models)
    got, got_labels = _images(fresh, tmp_path / "dd.h5", LoraSwitch(fresh, lora_folders(tmp_path / "lora", [0, 1],
                                                                                          "per_class")))
    assert got_labels.tolist() == labels.tolist() == [0, 0, 1, 1]
    assert np.abs(got[:2].astype(int) - base[:2]).max() > 0  # class 0: its LoRA changed its images
    assert np.array_equal(got[2:], base[2:])  # class 1: unloaded, exactly the base generator's
    # the trained pipeline itself gives what the reloaded LoRA gives (diffusers' format round-trips)
    again, _ = _images(pipe, tmp_path / "trained.h5")
    assert np.array_equal(again[:2], got[:2])


def test_zero_epochs_train_nothing(tiny_models, tmp_path):
    base, _ = _images(_pipe(tiny_models), tmp_path / "base.h5")
    pipe = _pipe(tiny_models)
    images, prompts = _shots(0)
    assert train_lora(pipe, images, prompts, {**FAST, "epochs": 0}, 32, progress=False) == []
    assert not getattr(pipe.unet, "peft_config", None)
    same, _ = _images(pipe, tmp_path / "same.h5")
    assert np.array_equal(same, base)
