"""`python -m synrec.prepare --models`: every model a config names, fetched into the Hugging Face cache through its
own library on a login node; offline it says what the cache holds and what is missing (issue 30)."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from synrec import tiny

REPO = Path(__file__).resolve().parent.parent


def _into_cache(hub: Path, repo_id: str, folder: Path) -> None:
    """A model folder as huggingface_hub lays a download out: refs/main names the snapshot holding its files."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    shutil.copytree(folder, repo / "snapshots" / "abc123")


def test_models_are_found_offline_in_a_fabricated_cache_and_a_missing_one_is_named(tmp_path):
    hub = tmp_path / "hf" / "hub"
    _into_cache(hub, "org/tiny-sd", tiny.build_tiny_stable_diffusion(tmp_path / "build" / "sd"))
    _into_cache(hub, "org/tiny-t5", tiny.build_tiny_t5(tmp_path / "build" / "t5"))
    _into_cache(hub, "org/tiny-llava", tiny.build_tiny_llava(tmp_path / "build" / "llava"))  # DISEF's captioner
    clip = tiny.build_tiny_clip(tmp_path / "clip-RN", "RN")
    # (over config/config.yaml, as snakemake merges: both of its backbones are named here)
    cfg = {"models": {"clip": {"RN50": {"model": f"local-dir:{clip}"}, "ViT-B-16": {"model": "./no-such-clip"}},
                      "text_to_image": {"model": "org/tiny-sd"}, "word_to_sentence": {"model": "org/tiny-t5"},
                      "captioner": {"model": "org/tiny-llava"}},
           "generators": {"sdxl": {"model": "org/not-fetched", "generation": {"height": 1024, "width": 1024}}}}
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(cfg))
    env = {"PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "synrec.prepare", "--models", "--configfile", str(tmp_path / "models.yaml")]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    lines = out.stdout.splitlines()
    assert out.returncode == 1, out.stdout + out.stderr  # one model is missing
    by_role = {line.split(":")[0]: line for line in lines}
    assert set(by_role) == {"clip-RN50", "clip-ViT-B-16", "text_to_image", "text_to_image@sdxl",
                            "word_to_sentence", "captioner"}, lines
    assert by_role["clip-ViT-B-16"] == "clip-ViT-B-16: local folder ./no-such-clip does not exist"
    assert by_role["clip-RN50"].startswith("clip-RN50: local: ") and " GB at " in by_role["clip-RN50"]
    snapshot = hub / "models--org--tiny-sd" / "snapshots" / "abc123"
    assert by_role["text_to_image"].endswith(f"GB at {snapshot}")
    assert by_role["word_to_sentence"].startswith("word_to_sentence: org/tiny-t5: ")
    assert by_role["captioner"].startswith("captioner: org/tiny-llava: ") and " GB at " in by_role["captioner"]
    assert by_role["text_to_image@sdxl"].startswith("text_to_image@sdxl: org/not-fetched could not be fetched")
    assert "offline=yes" in by_role["text_to_image@sdxl"]
    # with the missing generator and CLIP left out, every model is there: exit 0
    del cfg["generators"]
    cfg["models"]["clip"]["ViT-B-16"] = {"model": f"local-dir:{clip}"}
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(cfg))
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 5, out.stdout + out.stderr
