"""Shared fixtures: the tiny models (built once per test session, through the library's own builders) and the
made-up datasets in each on-disk format."""

from __future__ import annotations

import os
import tempfile

# Tests never touch the network or the user's model cache: set before any Hugging Face import reads them.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="synrec-test-hf-")

import copy
from pathlib import Path

import pytest

from synrec import demo_data, tiny
from synrec.config import load_dataset_config

REPO = Path(__file__).resolve().parent.parent
SHAPES = demo_data.SHAPES_CLASSES


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return {
        "clip_rn": str(tiny.build_tiny_clip(root / "clip-RN", "RN")),
        "clip_vit": str(tiny.build_tiny_clip(root / "clip-ViT", "ViT")),
        "sd": str(tiny.build_tiny_stable_diffusion(root / "stable-diffusion")),
        "t5": str(tiny.build_tiny_t5(root / "t5", extra_words=["circle", "square", "triangle", "cross"])),
    }


@pytest.fixture
def shapes_cfg():
    """A validated dataset config for the shapes classes (CoOp-split format by default)."""
    return copy.deepcopy(load_dataset_config("demo_shapes", REPO / "config" / "datasets"))


def dataset_cfg(fmt: str, **extra) -> dict:
    from synrec.config import DATASET_SCHEMA, validate

    cfg = {"name": f"t_{fmt}", "title": "T", "task": "o", "format": fmt, "root": "ds", "classnames": list(SHAPES),
           "templates": ["a photo of a {c}."], **extra}
    return {**validate(cfg, DATASET_SCHEMA, "test config"), "_path": f"t_{fmt}.yaml"}
