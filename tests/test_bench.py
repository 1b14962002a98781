"""The benchmarks run from a fresh clone on CPU (small settings, tiny models): each finishes and reports every figure
it promises. Nothing here asserts a speed: timings are the benchmarks' output, not tests."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(*args):
    out = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_generation_throughput_reports_the_split_startup_and_every_lever(tiny_models, tmp_path):
    out = tmp_path / "g.json"
    run("bench/generation_throughput.py", "--model", tiny_models["sd"], "--size", "32", "--steps", "30",
        "--batches", "1,2", "--levers", "all", "--repeat", "1", "--out", str(out))
    r = json.loads(out.read_text())
    for b in ("1", "2"):
        entry = r["batches"][b]
        assert set(entry["share"]) == {"text_encoder", "unet_all_steps", "vae_decode", "safety_checker", "png_hdf5"}
        assert abs(sum(entry["share"].values()) - 1) < 1e-9 and entry["images_per_s"] > 0
    assert r["startup"]["import_s"] > 0 and r["startup"]["load_s"] > 0
    assert r["classes_per_job_for_5pct_startup"] >= 1
    levers = r["levers"]
    assert {"dpmsolver++_20_steps", "dpmsolver++_25_steps", "background_encode", "vae_per_image", "channels_last",
            "sdpa_vs_classic"} <= set(levers)


def test_decode_and_pretrain_throughput_run_on_cpu():
    text = run("bench/decode_throughput.py", "--images", "8", "--size", "64")
    assert "png decode + timm train 224" in text and "cores per GPU" in text
    text = run("bench/pretrain_throughput.py", "--tiny", "--steps", "1", "--batch", "4")
    assert text.count("img/s") == 6  # three models, bf16 and fp32 each
