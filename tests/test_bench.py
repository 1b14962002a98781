"""The benchmarks run from a fresh clone on CPU (small settings, tiny models): each finishes and reports every figure
it promises. Nothing here asserts a speed: timings are the benchmarks' output, not tests."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # minutes in all (the throughput runs): CI runs them, `-m "not slow"` does not


def run(*args):
    out = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=900)
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


def test_demo_effects_gives_each_effect_its_paired_interval_and_the_runs_verdicts(tmp_path):
    """Two fabricated runs of Table 1's Demo-Shapes ViT cells: a gain on 30 of 400 images (resolved in both), and
    RN50 cells equal but for one image in one run (noise): the bench says so, and that the runs agree."""
    import numpy as np

    from synrec.intervals import pack

    def write(root, rel, correct):
        path = root / "zeroshot" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"metrics": {"acc1": 100 * float(np.mean(correct)), "n": len(correct),
                                                "correct": pack(correct)}}))

    base = np.random.default_rng(0).random(400) < 0.5
    for name in ("a", "b"):
        write(tmp_path / name, "demo_shapes/ViT-B-16/CLIP.json", base)
        write(tmp_path / name, "demo_shapes/ViT-B-16/LE+CF-SCE.json", base | (np.arange(400) < 60))
        write(tmp_path / name, "demo_shapes/RN50/CLIP.json", base)
        write(tmp_path / name, "demo_shapes/RN50/LE+CF-SCE.json", base ^ (np.arange(400) == (0 if name == "a" else 1)))
    text = run("bench/demo_effects.py", str(tmp_path / "a"), str(tmp_path / "b"))
    vit = next(line for line in text.splitlines() if "ViT, Demo-Shapes" in line)
    rn = next(line for line in text.splitlines() if "RN50, Demo-Shapes" in line)
    assert vit.split()[-1] == "resolved" and vit.count("resolved") == 3
    assert rn.split()[-1] == "noise"
    assert text.strip().endswith("2 effects; the runs agree on 2; resolved in every run: 1")


def test_compare_results_names_what_differs_beyond_the_ignored_keys_and_job_times_parse_a_log(tmp_path):
    for name, acc in (("a", 50.0), ("b", 50.0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "r.json").write_text(json.dumps({"metrics": {"acc1": acc}, "created": name}))
        (tmp_path / name / "t.csv").write_text("x\n1\n" if name == "a" else "x\n2\n")
    text = run("bench/compare_results.py", str(tmp_path / "a"), str(tmp_path / "b"))
    assert text.splitlines()[0] == "2 files in both: 1 identical, 1 differ" and "differ: t.csv" in text
    sys.path.insert(0, str(REPO / "bench"))
    from demo_job_times import job_times

    log = ("[Mon Dec  7 15:09:40 2026]\nrule features:\n    jobid: 3\n[Mon Dec  7 15:09:47 2026]\nFinished jobid: 3\n"
           "[Mon Dec  7 15:09:47 2026]\nlocalrule table1:\n    jobid: 1\n[Mon Dec  7 15:09:48 2026]\nFinished job 1.\n")
    assert job_times(log) == [("features", 7.0), ("table1", 1.0)]


def test_peer_methods_throughput_times_a_clip_lora_a_datadream_step_and_a_caption(tmp_path):
    out = tmp_path / "p.json"
    run("bench/peer_methods_throughput.py", "--tiny", "--steps", "1", "--out", str(out))
    r = json.loads(out.read_text())
    for key in ("clip_lora_ViT-B-16", "clip_lora_RN50"):
        step = r[f"{key}_s_per_step"]
        assert step > 0 and r[f"{key}_s_per_16shot_job"] == pytest.approx(step * 8000)
    assert r["datadream_s_per_step"] > 0 and r["datadream_s_per_16shot_lora"] == pytest.approx(
        r["datadream_s_per_step"] * 400)
    assert r["caption_s_per_image"] > 0  # DISEF's captioner (a tiny LLaVA on the CPU)
