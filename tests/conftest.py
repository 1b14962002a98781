"""Shared fixtures: the tiny models (built once per test session, through the library's own builders) and the
made-up datasets in each on-disk format."""

from __future__ import annotations

import os
import tempfile

# Tests never touch the network or the user's model cache: set before any Hugging Face import reads them.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="synrec-test-hf-")

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synrec import demo_data, tiny
from synrec.config import load_dataset_config

REPO = Path(__file__).resolve().parent.parent
SHAPES = demo_data.SHAPES_CLASSES

# Nor does the caller's environment steer them: a Snakemake profile, a torchrun or SLURM task's rank (which would
# make the DDP test join someone else's process group).
for _var in ("SNAKEMAKE_PROFILE", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
             "MASTER_PORT", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"):
    os.environ.pop(_var, None)


# `make test` runs two xdist workers, each taking whole files (--dist loadfile: the files share module fixtures), in
# the order set here (--no-loadscope-reorder):
# - test_workflow.py first: it is the critical path (the demo-model build, the demo, the tests on the demo project);
# - then the files that need no demo models, filling the other core meanwhile. A worker holds one file queued behind
#   its current one, so the worker on test_workflow.py runs the next file only after it: test_bench.py's throughput
#   runs go after the others;
# - the files that need the demo models last (the live-cluster test, the half-precision chain): the build is usually
#   done by then, so the other worker does not sit waiting for it (in CI it was).
def _file_rank(name: str, needs_demo_models: bool) -> int:
    if name == "test_workflow.py":
        return 0
    return 3 if needs_demo_models else 2 if name == "test_bench.py" else 1


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a serial run keeps pytest's order
        needs = {item.path.name for item in items if "demo_models" in item.fixturenames}
        items.sort(key=lambda item: _file_rank(item.path.name, item.path.name in needs))  # stable: files stay whole


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


WORKFLOW_DIRS = ("workflow", "rules", "scripts", "config", "profiles", "envs", "synrec")


def num(cell: str) -> float:
    """The value of a table cell, without its interval: '48.44 [39.84, 57.03]' -> 48.44."""
    return float(cell.split()[0])


#: the test suite's scale of the demo (tests/ci-scale.yaml): a project that holds this file gets it after
#: config/demo.yaml in every :func:`snakemake` call
CI_SCALE = "ci-scale.yaml"


def copy_workflow(root: Path, demo_models: Path | None = None, ci_scale: bool = False) -> Path:
    """A copy of the workflow in ``root``; with ``demo_models``, the trained demo models already in place (their
    modification times kept, so Snakemake sees them up to date and does not train them again); with ``ci_scale``,
    tests/ci-scale.yaml in it, so that every run there is at the test suite's scale."""
    for d in WORKFLOW_DIRS:
        shutil.copytree(REPO / d, root / d, ignore=shutil.ignore_patterns("__pycache__"))
    if demo_models is not None:
        shutil.copytree(demo_models, root / "resources" / "tiny")
    if ci_scale:
        shutil.copy(REPO / "tests" / CI_SCALE, root / CI_SCALE)
    return root


# Cores each workflow test gives Snakemake: 2, as on CI's runners; a larger host may raise it (tests/cuda_host.sh).
TEST_CORES = os.environ.get("SYNREC_TEST_CORES", "2")


def snakemake(cwd, *args, check=True, overrides=(), fake_gpus=False, unset=()):
    """Snakemake on the demo config in the project ``cwd``; an AssertionError with its output tails if it fails.
    ``unset``: environment variables the run does not get (HF_HUB_OFFLINE: the workflow must set it itself)."""
    # targets first: --configfile takes every following word up to the next option
    scale = [CI_SCALE] if (Path(cwd) / CI_SCALE).is_file() else []
    cmd = [sys.executable, "-m", "snakemake", *args, "--cores", TEST_CORES, "--configfile", "config/demo.yaml",
           *scale, *overrides]
    env = {k: v for k, v in os.environ.items() if k not in unset} | {"PYTHONUNBUFFERED": "1"}
    if fake_gpus:  # every job's torch reports two GPUs that any CUDA call then fails to find (tests/fake_gpu)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tests" / "fake_gpu"), env.get("PYTHONPATH")]))
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if check and out.returncode != 0:
        raise AssertionError(f"snakemake {args} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


def _build_demo_models(root: Path) -> None:
    copy_workflow(root)
    targets = [f"resources/tiny/{k}" for k in ("clip-RN", "clip-ViT", "stable-diffusion", "t5", "captioner")]
    out = subprocess.run([sys.executable, "-m", "snakemake", *targets, "--cores", TEST_CORES, "--configfile",
                          "config/demo.yaml"], cwd=root, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"building the demo models failed:\n{out.stderr[-3000:]}")


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory) -> Path:
    """The demo's four trained models (CLIP RN and ViT, Stable Diffusion, T5), built by the workflow's own rule
    (about 3-4 minutes on 2 cores); ``resources/tiny`` of a demo project. Built once per test session: under
    pytest-xdist the workers share one build (the first builds it under a file lock, the others wait and reuse it;
    a failed build is recorded, so the others fail at once with its message instead of each trying again)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.mktemp("demo-models")
        _build_demo_models(root)
        return root / "resources" / "tiny"
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp().parent / "demo-models"  # shared by this session's workers
    done, failed = root / ".built", root.with_name("demo-models.failed")
    with FileLock(str(root) + ".lock"):
        if failed.exists():
            pytest.fail(failed.read_text(), pytrace=False)
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            try:
                _build_demo_models(root)
            except RuntimeError as e:
                failed.write_text(str(e))
                raise
            done.touch()
    return root / "resources" / "tiny"


def write_clip_benchmark_webdataset(root, classnames, per_class, fmt="webp", per_shard=5, nshards_file=True):
    """A test split in the layout clip_benchmark.webdataset_builder.convert_dataset writes: classnames.txt at the
    root, test/<i>.tar shards of samples s%07d.<fmt> + s%07d.cls (the label as text), test/nshards.txt."""
    import io
    import tarfile

    import numpy as np
    from PIL import Image

    (root / "test").mkdir(parents=True)
    (root / "classnames.txt").write_text("\n".join(classnames) + "\n")
    rng = np.random.default_rng(0)
    samples = [(label, rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
               for label in range(len(classnames)) for _ in range(per_class)]
    shards = [samples[i:i + per_shard] for i in range(0, len(samples), per_shard)]
    for s, shard in enumerate(shards):
        with tarfile.open(root / "test" / f"{s}.tar", "w") as tar:
            for j, (label, pixels) in enumerate(shard):
                key = f"s{s * per_shard + j:07d}"
                buf = io.BytesIO()
                Image.fromarray(pixels).save(buf, format=fmt, **({"lossless": True} if fmt == "webp" else {}))
                for name, data in ((f"{key}.{fmt}", buf.getvalue()), (f"{key}.cls", str(label).encode())):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    if nshards_file:
        (root / "test" / "nshards.txt").write_text(f"{len(shards)}\n")
    return samples
