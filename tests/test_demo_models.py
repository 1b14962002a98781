"""The demo models the workflow builds (rule tiny_model) belong to the demo's world, not to a run's datasets."""

import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_naming_another_dataset_does_not_retrain_the_demo_models(demo_models, tmp_path):
    """Issue 32: the models' params once held every class word of the run's datasets, so adding a dataset with a new
    word (DTD's 'banded', ...) retrained both CLIPs and invalidated everything. Against the build's recorded params
    (its .snakemake metadata), a run that names another dataset must have nothing to do for them."""
    build = demo_models.parent.parent  # the project the models were built in, its Snakemake metadata included
    project = tmp_path / "p"
    shutil.copytree(build, project, symlinks=True)
    (project / "more.yaml").write_text("datasets: [demo_shapes, demo_cifar, dtd]\n")
    models = [f"resources/tiny/{k}" for k in ("clip-RN", "clip-ViT", "stable-diffusion", "t5", "captioner")]
    cmd = [sys.executable, "-m", "snakemake", "-n", *models, "--configfile", "config/demo.yaml"]
    for extra in ([], ["more.yaml"]):  # (not --list-params-changes: Snakemake 9.27 lists unchanged outputs too)
        out = subprocess.run([*cmd, *extra], cwd=project, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "Nothing to be done" in out.stdout + out.stderr, (extra, out.stdout[-2000:])


def test_each_demo_model_is_retrained_only_by_its_own_steps(demo_models, tmp_path):
    """A demo model's job has only its own steps as params: more captioner steps retrain the captioner alone, not
    the CLIPs, Stable Diffusion or T5 (and so nothing downstream of them)."""
    project = tmp_path / "p"
    shutil.copytree(demo_models.parent.parent, project, symlinks=True)
    (project / "cap.yaml").write_text("demo_models: {captioner_steps: 301}\n")
    models = [f"resources/tiny/{k}" for k in ("clip-RN", "clip-ViT", "stable-diffusion", "t5", "captioner")]
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", *models, "--configfile", "config/demo.yaml",
                          "cap.yaml"], cwd=project, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    planned = [line.split()[1] for line in out.stdout.splitlines() if line.strip().startswith("output: resources")]
    assert planned == ["resources/tiny/captioner"], out.stdout[-2000:]
