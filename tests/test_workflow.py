"""The whole chain through Snakemake on the embedded demo (tiny models, made-up data), in a copy of the workflow in
a temp dir, at the test suite's scale (tests/ci-scale.yaml: Table 3, CLIP-LoRA and DataDream train for fewer steps
than config/demo.yaml says; the demo's claims are checked at its own scale by bench/demo_effects.py). Slow (minutes
on 2 cores): marked `slow`, run by default and in CI."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import copy_workflow, num, snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory, demo_models):
    return copy_workflow(tmp_path_factory.mktemp("wf"), demo_models, ci_scale=True)


def test_one_dataset_target_runs_only_its_own_jobs(project):
    target = "results/zeroshot/demo_shapes/RN50/LE+CF-SCE.json"
    snakemake(project, target, unset=("HF_HUB_OFFLINE",))  # the workflow's jobs run offline on their own
    rec = json.loads((project / target).read_text())
    assert rec["dataset"] == "demo_shapes" and rec["variant"] == "LE+CF-SCE" and rec["backbone"] == "RN50"
    assert 0 <= rec["metrics"]["acc1"] <= 100 and rec["metrics"]["n"] == 1024  # 4 classes x 256 test images
    assert rec["n_train"] == 4 * 8  # CF budget: 8 per class out of 16 generated
    assert rec["models"]["clip"]["model"] == "local-dir:resources/tiny/clip-RN" and rec["seed"] == 0
    assert len(rec["history"]) == 100 and len(rec["config_hash"]) == 16
    assert rec["synthetic"] == {"safety_checker": "off", "flagged_dropped": 0, "regenerated": 0}
    assert not (project / "work/demo/demo_cifar").exists()  # the other dataset was not touched
    assert not (project / "work/demo/demo_shapes/features/ViT-B-16").exists()
    log = (project / "work/demo/logs/classifier_tuning/demo_shapes-RN50-LE+CF-SCE.log").read_text()
    assert log.count("top-1") == 1
    # the demo's cpu_isa, on any x86 host; the hub offline (issue 30), though the run was started without it
    assert log.splitlines()[0].endswith("(CPU kernels: AVX2)"), log.splitlines()[0]
    assert rec["metrics"]["acc1_ci95"][0] <= rec["metrics"]["acc1"] <= rec["metrics"]["acc1_ci95"][1]


def test_demo_writes_tables_1_and_2_and_a_rerun_does_nothing(project):
    # The whole demo, with torch in every job reporting two GPUs (this host has none, so any CUDA call fails): the
    # demo config's `device: cpu` keeps every job on the CPU, so the run cannot differ on a host that has CUDA.
    snakemake(project, fake_gpus=True)
    with open(project / "results/table1.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Dataset", "Task", "CLIP-RN50", "CLIP-RN50+SYN", "delta RN50", "CLIP-ViT-B-16",
                       "CLIP-ViT-B-16+SYN", "delta ViT-B-16"]
    assert [r[0] for r in rows[1:]] == ["Demo-Shapes", "Demo-CIFAR", "Average"]
    # the table holds exactly what the result files say, with the interval over the test images each records
    clip = json.loads((project / "results/zeroshot/demo_cifar/ViT-B-16/CLIP.json").read_text())
    lo, hi = clip["metrics"]["acc1_ci95"]
    assert rows[2][5] == f"{clip['metrics']['acc1']:.2f} [{lo:.2f}, {hi:.2f}]" and lo < clip["metrics"]["acc1"] < hi
    assert (project / "results/table1.md").read_text().startswith("DEMO: a miniature")
    check_zero_shot_effects(rows)
    assert (project / "results/table1.png").read_bytes()[:4] == b"\x89PNG"
    with open(project / "results/table2.csv") as f:
        t2 = list(csv.reader(f))
    assert len(t2) == 3 and t2[0][2] == "B-CE" and len(t2[0]) == 14
    with open(project / "results/table3.csv") as f:
        t3 = list(csv.reader(f))
    shares = [float(x) for x in t3[0][1:]]
    assert t3[0][0] == "Param Tuned (%)" and shares == sorted(shares) and shares[0] == 0 and shares[-1] == 100.0
    assert t3[1][1:] == ["(zero-shot)", "head", "attnpool", "layer4", "layer3", "layer2", "layer1", "stem"]
    layer1 = json.loads((project / "results/param_share/demo_shapes/RN50/layer1.json").read_text())
    assert layer1["settings"]["epochs"] == 20  # table3.epochs of tests/ci-scale.yaml, not ct.epochs (100)
    with open(project / "results/table4.csv") as f:
        t4 = list(csv.reader(f))
    assert t4[0] == ["Real shot", "1", "2", "4", "Syn (16/class)"] and t4[1][0] == "Acc"
    syn = json.loads((project / "results/scratch/demo_cifar/resnet10t/syn.json").read_text())
    assert syn["n_train"] == 4 * 16 and syn["settings"]["model"] == "resnet10t"
    assert num(t4[1][-1]) == round(syn["metrics"]["acc1"], 2) > 35  # from scratch on synthetic data: above chance
    # generation shards were temporary; the merged store holds 12 images for each of 4 classes
    assert not list((project / "work/demo/demo_shapes/synthetic/LE/shards").glob("*.h5"))
    from synrec.stores import ImageStore

    store = ImageStore(project / "work/demo/demo_shapes/synthetic/LE/images.h5")
    assert len(store) == 64 and sorted(set(store.labels.tolist())) == [0, 1, 2, 3]
    assert all(p.startswith("a photo of ") for p in store.prompts())
    check_few_shot_outputs(project)
    check_pretraining_outputs(project)
    check_generators(project, rows)
    # one HTML page with every table and figure
    snakemake(project, "--report", "report.html")
    html = (project / "report.html").read_text(errors="replace")
    assert "table1.png" in html and "figure1.png" in html and "table7.csv" in html and "table6.csv" in html
    assert "table8.csv" in html and "table11.csv" in html
    out = snakemake(project)
    assert "Nothing to be done" in out.stdout + out.stderr
    # batch sizes and job splits do not change any output, so changing them reruns nothing
    (project / "bs.yaml").write_text("generation: {batch_size: 5, classes_per_job: 2}\nfeatures: {batch_size: 7}\n")
    out = snakemake(project, "-n", overrides=["bs.yaml"])
    assert "Nothing to be done" in out.stdout + out.stderr
    # a setting that changes the images does
    (project / "gs.yaml").write_text("generation: {guidance_scale: 5.0}\n")
    out = snakemake(project, "-n", overrides=["gs.yaml"])
    assert "generate" in out.stdout and "Nothing to be done" not in out.stdout + out.stderr
    _another_model_and_back_reruns_nothing(project)


def test_a_finished_project_moved_elsewhere_has_nothing_to_do(project, tmp_path):
    """Issue 30: a project moved to another folder (scratch, say) with its work/ and results/, copied as `cp -a` or
    `rsync -a` copy (modification times kept): nothing in the params, inputs or manifests holds the old path, so a
    dry run there plans no job."""
    if not (project / "results/table1.csv").exists():
        snakemake(project)
    moved = tmp_path / "elsewhere" / "project"
    shutil.copytree(project, moved, symlinks=True, ignore=shutil.ignore_patterns("locks"))  # copy2: times kept
    out = snakemake(moved, "-n")
    assert "Nothing to be done" in out.stdout + out.stderr, out.stdout[-2000:]


def _another_model_and_back_reruns_nothing(project):
    """Issue 32: a dry run naming another text-to-image model writes nothing; a run naming a missing folder, an
    unknown CLIP or a hub id not in the cache stops before submission; back on the demo config, nothing is to be done
    and no manifest has a new date."""
    import shutil

    manifests = project / "work/demo/manifests"
    dates = {p: p.stat().st_mtime_ns for p in manifests.rglob("*.json")}
    shutil.copytree(project / "resources/tiny/stable-diffusion", project / "other-sd", symlinks=True)
    (project / "other.yaml").write_text("models: {text_to_image: {model: other-sd}}\n")
    out = snakemake(project, "-n", overrides=["other.yaml"])
    assert "rule generate" in out.stdout  # other images: generation and all after it would rerun
    assert {p: p.stat().st_mtime_ns for p in manifests.rglob("*.json")} == dates  # but the dry run wrote nothing
    # names the libraries cannot load (issue 32): each run stops before any job, so no job's outputs are removed
    made = [project / f"work/demo/demo_shapes/{p}" for p in ("features/RN50/test.h5", "heads/RN50.pt")]
    made_dates = [p.stat().st_mtime_ns for p in made]
    for bad, line in (("text_to_image: {model: ./no-such-sd}", "./no-such-sd does not exist"),
                      ("clip: {RN50: {model: RN5000, pretrained: openai}}", "CLIP model 'RN5000' is not an open_clip"),
                      ("text_to_image: {model: nosuch-org/nosuch-model}",
                       "text-to-image model 'nosuch-org/nosuch-model' is not in the Hugging Face cache")):
        (project / "bad.yaml").write_text(f"models: {{{bad}}}\n")
        out = snakemake(project, overrides=["bad.yaml"], check=False)
        assert out.returncode != 0 and "nothing was submitted" in out.stderr and line in out.stderr, out.stderr[-2000:]
        assert [p.stat().st_mtime_ns for p in made] == made_dates
    # a count written 16.0 once reached generation and left rerun triggers: now refused before anything runs
    (project / "bad.yaml").write_text("generation: {images_per_class: 16.0}\n")
    out = snakemake(project, overrides=["bad.yaml"], check=False)
    assert out.returncode != 0 and "key 'generation.images_per_class': 16.0 is not of type 'integer'" in out.stderr
    assert {p: p.stat().st_mtime_ns for p in manifests.rglob("*.json")} == dates
    out = snakemake(project, "-n")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_weights_or_a_split_changed_in_place_rerun_exactly_what_reads_them(project, tmp_path):
    """Issue 15, stale features: content inside a model or dataset folder, not the folder's date, decides."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    target = "results/zeroshot/demo_shapes/RN50/CLIP.json"
    snakemake(project, target)
    # on a copy (dates kept): the module's later tests keep the demo models and data as they were
    project = Path(shutil.copytree(project, tmp_path / "copy", symlinks=True))
    out = snakemake(project, target, "-n")
    assert "Nothing to be done" in out.stdout + out.stderr
    feats = project / "work/demo/demo_shapes/features/RN50/test.h5"
    old_feats = project / "old-test.h5"
    shutil.copy2(feats, old_feats)
    # new weights written in place: the folder keeps its date, as after `cp new.safetensors clip-RN/`
    folder = project / "resources/tiny/clip-RN"
    dates = {p: p.stat().st_mtime_ns for p in (folder, folder / ".snakemake_timestamp") if p.exists()}
    weights = load_file(folder / "open_clip_model.safetensors")
    name = next(k for k, v in weights.items() if v.dtype == torch.float32 and v.ndim == 4)
    weights[name] = weights[name] * 1.5
    save_file(weights, folder / "open_clip_model.safetensors")
    for p, ns in dates.items():
        os.utime(p, ns=(ns, ns))
    _changed_content_reruns(project, target, feats, old_feats)


def _changed_content_reruns(project, target, feats, old_feats):
    import shutil

    plan = snakemake(project, target, "-n").stdout
    for rule in ("rule features:", "rule text_head:", "rule zeroshot_clip:"):
        assert rule in plan, plan[-2000:]
    assert "ViT-B-16" not in plan and "rule generate" not in plan and "demo_cifar" not in plan
    snakemake(project, target)
    from synrec.stores import read_features

    assert read_features(feats)[2]["model"] != read_features(old_feats)[2]["model"]
    # a consumer refuses a store computed from other weights than the manifest names, even one the DAG trusts
    shutil.copy(old_feats, feats)
    out = snakemake(project, target, "--forcerun", "zeroshot_clip", check=False)
    assert out.returncode != 0 and "computed from other weights than the manifests name now" in out.stderr
    assert not (project / target).exists()
    snakemake(project, target, "--forcerun", "features")
    # a split file relabelled in place: the features of that split rerun, for that dataset only
    split_file = project / "resources/demo-data/demo_shapes/split_zhou_DemoShapes.json"
    split = json.loads(split_file.read_text())
    (a, la, na), (b, lb, nb) = split["test"][0], next(r for r in split["test"] if r[1] != split["test"][0][1])
    split["test"][0], split["test"][split["test"].index([b, lb, nb])] = [a, lb, nb], [b, la, na]
    split_file.write_text(json.dumps(split))
    plan = snakemake(project, target, "-n").stdout
    assert "rule features:" in plan and "demo_shapes/features/RN50/test.h5" in plan
    assert "features/RN50/train.h5" not in plan and "demo_cifar" not in plan and "rule text_head:" not in plan
    snakemake(project, target)
    # a test image deleted once its features are made (issue 32: a result made from data no longer there must not
    # pass as current): the run stops before submitting anything, though Snakemake alone saw nothing to do
    gone = split_file.parent / "images" / split["test"][5][0]
    kept = project / "kept.png"
    shutil.copy2(gone, kept)
    gone.unlink()
    for args in ((), ("--forcerun", "features")):
        out = snakemake(project, target, *args, check=False)
        assert out.returncode != 0 and "synrec: 1 input(s) missing or incomplete, nothing was submitted:" in out.stderr
        assert "dataset 'demo_shapes' split 'test' is incomplete: test: 1 of 1024 listed images" in out.stderr
        assert (project / target).exists() and feats.exists()  # nothing was run, so nothing was deleted
    # the image back as it was: so is the manifest, and nothing reruns
    shutil.copy2(kept, gone)
    out = snakemake(project, target)
    assert "Nothing to be done" in out.stdout + out.stderr, out.stdout[-2000:]


def test_rebuilding_one_dataset_inside_a_table_takes_the_documented_command(project):
    """docs/cluster.md: delete a dataset's result JSONs, then --forcerun the table's rule."""
    snakemake(project, "results/table1.csv")
    results = project / "results/zeroshot/demo_cifar"
    gone = sorted(p for v in ("CLIP", "LE+CF-SCE") for p in results.glob(f"*/{v}.json"))
    assert len(gone) == 4  # what Table 1 reads of the dataset: 2 backbones x (CLIP, LE+CF-SCE)
    table = project / "results/table1.csv"
    before = table.stat().st_mtime_ns
    for p in gone:
        p.unlink()
    out = snakemake(project, "results/table1.csv", "-n")  # the table alone: Snakemake sees nothing to do
    assert "Nothing to be done" in out.stdout + out.stderr
    snakemake(project, "results/table1.csv", "--forcerun", "table1")  # target before the option
    assert gone and all(p.exists() for p in gone) and table.stat().st_mtime_ns > before
    assert "rule generate" not in snakemake(project, "results/table1.csv", "-n").stdout


def check_few_shot_outputs(project):
    from synrec.stores import ImageStore

    with open(project / "results/table5.csv") as f:
        t5 = list(csv.reader(f))
    assert t5[0] == ["Dataset", "Shots", "B", "RF", "RG"] and t5[1][:2] == ["Demo-Shapes", "4"]
    assert " ± " in t5[1][2] and t5[1][2].endswith("]")  # mean ± std over the two split seeds [95 % interval]
    with open(project / "results/table7.csv") as f:
        assert [r[0] for r in csv.reader(f)] == ["M-shot", "1", "4"]
    with open(project / "results/figure1.csv") as f:
        fig = list(csv.DictReader(f))
    assert {r["method"] for r in fig} == {"Zero-shot CLIP", "CT w. init", "Tip-Adapter", "Tip-Adapter-F", "CoOp",
                                         "CT w. Syn", "CLIP-LoRA", "CLIP-LoRA w. Syn", "DataDream", "DISEF"}
    check_strategies(project)
    coop = json.loads((project / "results/fewshot/demo_shapes/RN50/1shot-seed2/coop.json").read_text())
    assert coop["settings"]["epochs_run"] == 20 and len(coop["history"]) == 20 and coop["n_train"] == 4
    with open(project / "results/table6.csv") as f:
        t6 = list(csv.reader(f))
    assert t6[0] == ["Train data", "Freeze BN?", "Test Acc"] and [r[:2] for r in t6[1:]] == [
        ["Real", ""], ["Real", "yes"], ["Syn", ""], ["Syn", "yes"]]
    frozen = json.loads((project / "results/frozen_bn/demo_shapes/RN50/4shot-seed1/syn-bn-frozen.json").read_text())
    # the zero-shot LE+CF images (8 of 16 per class kept), tuned with the zero-shot CT settings (ct: lr 0.01, not the
    # mix lr 0.05), once: they do not depend on the split seed
    assert frozen["n_train"] == 4 * 8 and frozen["settings"]["loss"] == "SCE" and frozen["settings"]["lr"] == 0.01
    assert frozen["settings"]["synthetic"] == "LE+CF"
    assert frozen["synthetic"] == {"safety_checker": "off", "flagged_dropped": 0, "regenerated": 0}  # as CT's
    assert not (project / "results/frozen_bn/demo_shapes/RN50/4shot-seed2/syn-bn-frozen.json").exists()
    # frozen BN on images is CT on cached features: the Syn/frozen cell is Table 1's RN50 LE+CF-SCE, class by class
    cached = json.loads((project / "results/zeroshot/demo_shapes/RN50/LE+CF-SCE.json").read_text())
    assert frozen["metrics"]["recall_per_class"] == cached["metrics"]["recall_per_class"]
    assert (project / "results/figure1.png").read_bytes()[:4] == b"\x89PNG"
    tip = json.loads((project / "results/fewshot/demo_shapes/RN50/4shot-seed1/tip.json").read_text())
    assert tip["shots"] == 4 and tip["split_seed"] == 1 and tip["n_train"] == 16
    check_tip_search(project, tip)
    split = json.loads((project / "work/demo/demo_shapes/fewshot/split-4shot-seed1.json").read_text())
    assert len(split["train"]) == 16 and split["val_from"] == "val" and len(split["val"]) == 16
    rg = ImageStore(project / "work/demo/demo_shapes/synthetic/RG-1shot-seed1/images.h5")
    # 1 shot: the paper's noise level is timestep 353 of this schedule; img2img starts on the 10-step grid's nearest
    assert len(rg) == 4 * 6 and int(rg.attrs["start_timestep"]) == 401 and float(rg.attrs["strength"]) == 0.55
    assert set(rg.prompts()) == {"a photo of red circle", "a photo of green square", "a photo of blue triangle",
                                 "a photo of yellow cross"}  # RG uses the class-name (B) prompts
    rf = json.loads((project / "results/fewshot/demo_shapes/RN50/4shot-seed2/mix-RF.json").read_text())
    b = json.loads((project / "results/fewshot/demo_shapes/RN50/4shot-seed2/mix-B.json").read_text())
    assert b["settings"]["n_syn"] == 4 * 8  # B: all the CLIP-filtered LE images
    assert 0 < rf["settings"]["n_syn"] < b["settings"]["n_syn"]  # RF drops some of them
    check_few_shot_effects(fig)


def check_strategies(project):
    """Issue 29: CLIP-LoRA and DataDream beside the paper's methods, one protocol, budgets and own hours in
    results/strategies.csv."""
    from synrec.stores import ImageStore

    with open(project / "results/strategies.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Dataset", "Shots", "Method", "Top-1 (%)", "Real img/class", "Synthetic img/class",
                       "Own device-hours", "Synthetic used/class"]
    assert rows[1][:3] == ["Demo-Shapes", "0", "Zero-shot CLIP"]
    assert [(r[1], r[2]) for r in rows[2:]] == [(k, m) for k in ("1", "4") for m in (
        "CT w. init", "Tip-Adapter-F", "CoOp", "CLIP-LoRA", "CT w. Syn", "CLIP-LoRA w. Syn", "DataDream", "DISEF")]
    by = {(r[1], r[2]): r for r in rows[1:]}
    assert by[("4", "CLIP-LoRA w. Syn")][4:6] == ["4", "6"] and by[("4", "CLIP-LoRA")][4:6] == ["4", "0"]
    assert by[("1", "CT w. init")][6] == "0 (cpu)" and by[("1", "CLIP-LoRA")][6].endswith("(cpu)")
    assert float(by[("1", "CLIP-LoRA")][6].split()[0]) > 0
    assert all(" ± " in r[3] and r[3].endswith("]") for r in rows[2:])  # two seeds, an interval
    lora = json.loads((project / "results/fewshot/demo_shapes/RN50/4shot-seed1/clip-lora-RG.json").read_text())
    # tests/ci-scale.yaml: 25 steps per shot (the demo's 100 would be 400)
    assert lora["n_train"] == 16 + 24 and lora["settings"]["steps"] == 100 and lora["settings"]["rank"] == 2
    assert lora["synthetic"]["source"] == "RG" and lora["adapter_delta_norm"] > 0 and lora["history"]
    adapters = project / "work/demo/demo_shapes/fewshot/RN50/clip-lora-RG-4shot-seed1"
    assert json.loads((adapters / "adapter_config.json").read_text())["r"] == 2
    # DataDream: a LoRA per class, trained on the split's shots, each an output of its own; their images in one store
    loras = project / "work/demo/demo_shapes/fewshot/datadream/4shot-seed1/lora-00000"
    assert sorted(p.name for p in loras.iterdir() if not p.name.startswith(".")) == ["00000", "00001", "00002", "00003"]
    one = json.loads((loras / "00002" / "datadream.json").read_text())
    assert one["classes"] == ["blue triangle"] and len(one["shots"]) == 4 and len(one["history"]) == 5  # ci-scale
    assert (loras / "00002" / "pytorch_lora_weights.safetensors").is_file()
    dd = ImageStore(project / "work/demo/demo_shapes/synthetic/DD-4shot-seed1/images.h5")
    assert len(dd) == 4 * 6 and json.loads(dd.attrs["datadream"])["mode"] == "per_class"
    assert by[("4", "DataDream")][4:6] == ["4", "6"] and float(by[("4", "DataDream")][6].split()[0]) > 0
    check_disef(project, by)
    # CLIP-LoRA learns from the shots: at 4 shots it beats zero-shot CLIP by more than its own interval's half-width
    zs = num(rows[1][3])
    lo = float(by[("4", "CLIP-LoRA")][3].split("[")[1].split(",")[0])
    assert lo > zs, (zs, by[("4", "CLIP-LoRA")])


def check_zero_shot_effects(rows):
    """The paper's Table 1 effects in miniature: CLIP is above chance (25 % for 4 classes) on every demo dataset;
    tuning the ViT stand-in on its synthetic data (LE+CF-SCE) raises the average by more than 10 points, with a paired
    interval that excludes 0. The RN stand-in's gain is within noise (README); it must not lose more than noise."""
    header, body = rows[0], rows[1:]
    for backbone in ("RN50", "ViT-B-16"):
        clip, syn = header.index(f"CLIP-{backbone}"), header.index(f"CLIP-{backbone}+SYN")
        assert all(num(r[clip]) > 30 for r in body), (backbone, body)  # 1,024 test images: +5 is far from chance
        average = body[-1]
        assert average[0] == "Average", average
        delta = average[header.index(f"delta {backbone}")]
        lo = float(delta.split("[")[1].split(",")[0])
        if backbone == "ViT-B-16":
            assert num(average[syn]) > num(average[clip]) + 10 and lo > 0, (backbone, average)
        else:
            assert num(average[syn]) > num(average[clip]) - 5, (backbone, average)


def check_few_shot_effects(fig):
    """More real shots help the methods that learn from them (Figure 1's rising curves)."""
    acc = {(r["method"], int(r["shots"])): float(r["acc1_mean"]) for r in fig}
    assert acc[("CT w. init", 4)] > acc[("CT w. init", 1)] + 3, acc
    assert acc[("Tip-Adapter", 4)] > acc[("Tip-Adapter", 1)] + 5, acc
    # Tip-Adapter-F as released (keys trained on augmented views, alpha/beta searched after on 16 val images) gains
    # less in the demo than training-free Tip-Adapter; the README says so
    assert acc[("Tip-Adapter-F", 4)] > acc[("Tip-Adapter-F", 1)], acc


def check_tip_search(project, tip):
    """Tip-Adapter's alpha/beta come from a search on the few-shot val set that is not a tie across the grid."""
    import torch

    from synrec.stores import read_features
    from synrec.tip_adapter import cache_keys, one_hot, tip_logits

    feats = project / "work/demo/demo_shapes/features/RN50"
    split = json.loads((project / "work/demo/demo_shapes/fewshot/split-4shot-seed1.json").read_text())
    train_x, train_y, _ = read_features(feats / "train.h5")
    val_x, val_y, _ = read_features(feats / "val.h5")
    head = torch.load(project / "work/demo/demo_shapes/heads/RN50.pt", weights_only=True)
    with h5py.File(project / "work/demo/demo_shapes/fewshot/RN50/views-4shot-seed1.h5") as f:
        assert f["views"].shape[0] == 10 and f["indices"][:].tolist() == split["train"]
        keys = cache_keys(f["views"][:])  # the mean of the shots' 10 augmented views
    values = one_hot(train_y[split["train"]], 4)
    vx, vy = val_x[split["val"]], val_y[split["val"]]
    grid = {(a, b): float((tip_logits(vx, head["class_emb"], keys, values, a, b, head["logit_scale"]).argmax(1).numpy()
                           == vy).mean()) for a in (0.3, 1.0, 3.0, 10.0) for b in (1.0, 3.0, 10.0)}
    assert len(set(grid.values())) > 1, grid  # the grid pairs do not all tie
    assert grid[(tip["settings"]["alpha"], tip["settings"]["beta"])] == max(grid.values()), (tip["settings"], grid)


def check_generators(project, table1):
    """Issue 28: two generator families under one protocol. The default generator's column is Table 1's RN50 run,
    cell for cell; the SD3-shaped stand-in has its own store, model and results, from the same prompts and seeds;
    it learned nothing, so its images teach CLIP less than the trained Stable Diffusion's."""
    import h5py

    with open(project / "results/generators.csv") as f:
        g = list(csv.reader(f))
    assert g[0] == ["Dataset", "CLIP", "+SYN SD (trained)", "delta SD (trained)", "h/1k img SD (trained)",
                    "+SYN SD3 stand-in (random)", "delta SD3 stand-in (random)", "h/1k img SD3 stand-in (random)"]
    assert [r[0] for r in g[1:]] == ["Demo-Shapes", "Demo-CIFAR", "Average"]
    for mine, t1 in zip(g[1:], table1[1:]):
        assert mine[1:4] == t1[2:5], (mine, t1)  # CLIP, +SYN and the gain of Table 1's RN50 columns
        assert all(c.endswith(" (cpu)") and float(c.split()[0]) > 0 for c in (mine[4], mine[7])), mine
    assert num(g[3][2]) > num(g[3][5]) + 5, g[3]  # the trained generator's images help more
    sd3 = json.loads((project / "results/zeroshot/demo_cifar/RN50/LE@sd3+CF-SCE.json").read_text())
    assert sd3["models"]["text_to_image"]["model"] == "resources/tiny/gen-sd3" and sd3["variant"] == "LE@sd3+CF-SCE"
    stores = {s: project / f"work/demo/demo_cifar/synthetic/{s}/images.h5" for s in ("LE", "LE@sd3")}
    seeds = {}
    for s, path in stores.items():
        with h5py.File(path, "r") as f:
            seeds[s] = f["seeds"][:].tolist()
    assert seeds["LE"] == seeds["LE@sd3"] and len(seeds["LE"]) == 64  # the same prompts, the same seeds
    from synrec.stores import ImageStore

    assert ImageStore(stores["LE@sd3"]).prompts() == ImageStore(stores["LE"]).prompts()
    assert ImageStore(stores["LE@sd3"]).attrs["model"] == "resources/tiny/gen-sd3"


def check_pretraining_outputs(project):
    import torch

    from synrec.pretrain_data import ShardedImages

    tables = {}
    for t in ("table8", "table9", "table10", "table11"):
        with open(project / f"results/{t}.csv") as f:
            tables[t] = list(csv.reader(f))
        assert tables[t][0] == ["Data", "pre-trained on IN-1k?", "0", "S", "M"]
    assert [r[:2] for r in tables["table10"][1:]] == [["(None)", ""], ["IN-1K Syn", ""], ["IN-2K Syn", ""],
                                                      ["(None)", "yes"], ["IN-1K Syn", "yes"]]
    assert tables["table10"][1][2:] == [tables["table10"][1][2], "-", "-"]
    # cells hold what the transfer results say; random weights without pre-training is one job for both VOC tables
    voc = json.loads((project / "results/transfer/voc/resnet10t/none/none/0/random.json").read_text())
    lo, hi = voc["metrics"]["ap50_ci95"]  # its interval over the 12 test pictures (synrec.ap50)
    assert tables["table10"][1][2] == tables["table11"][1][2] == f"{voc['metrics']['ap50']:.2f} [{lo:.2f}, {hi:.2f}]"
    assert lo <= voc["metrics"]["ap50"] <= hi and lo < hi
    assert voc["metrics"]["ap50"] > 5  # four epochs on 24 pictures of 4 classes: the detector learns a little
    cells = [c for t in ("table10", "table11") for r in tables[t][1:] for c in r[2:] if c != "-"]
    assert len(set(cells)) == len(cells) - 1, cells  # distinct cells (but the shared no-pre-training one): a swap shows
    moco = json.loads((project / "results/transfer/voc/resnet10t/mocov2/IN-2K/M/random.json").read_text())
    assert tables["table11"][3][4].startswith(f"{moco['metrics']['ap50']:.2f} [") and moco["n_train"] == 24
    c100 = json.loads((project / "results/transfer/cifar/resnet10t/supervised/C100/M/random.json").read_text())
    assert tables["table8"][2][4].startswith(f"{c100['metrics']['acc1']:.2f} [") and c100["metrics"]["n"] == 4 * 256
    # the pre-trained backbone: M = 64 images over IN-2K's 8 classes, read as a prefix of the shared shards
    ck = torch.load(project / "work/demo/pretrain/models/mocov2/resnet10t/IN-2K/M/random.pt", weights_only=False)
    assert ck["images"] == 64 and ck["method"] == "mocov2" and not any(k.startswith("fc.") for k in ck["backbone"])
    shards = sorted((project / "work/demo/pretrain/demo_shapes/shards").glob("*.h5"))
    assert len(shards) == 2  # generated once (8 per class), shared by IN-1K (S: 8 per class) and IN-2K (M: 8)
    store = ShardedImages([(shards, 0)], per_class=8)
    assert np.bincount(store.labels).tolist() == [8] * 4
    sup = torch.load(project / "work/demo/pretrain/models/supervised/resnet10t/IN-1K/S/in1k.pt", weights_only=False)
    assert sup["init"] == "resources/tiny/in1k/supervised-resnet10t.pt" and sup["images"] == 32
    assert not list((project / "work/demo").rglob("*.ckpt"))  # finished runs leave no checkpoints


def check_disef(project, by):
    """DISEF: a caption per shot, keyed by the shot's train index; each image prompted with a caption of a shot of
    its own class; the zero-shot filter's keep-list is what CLIP-LoRA trained on, at DISEF's synthetic share."""
    from synrec.stores import ImageStore

    split = json.loads((project / "work/demo/demo_shapes/fewshot/split-4shot-seed1.json").read_text())
    caps = json.loads((project / "work/demo/demo_shapes/fewshot/captions-4shot-seed1.json").read_text())
    assert sorted(map(int, caps["captions"])) == sorted(split["train"]) and caps["settings"]["max_new_tokens"] == 77
    for i, c in caps["captions"].items():  # the demo captioner names the class it is told (the shot's own)
        assert c.startswith(f"a picture of a {caps['classes'][i]},"), (i, c)
    store = ImageStore(project / "work/demo/demo_shapes/synthetic/DISEF-4shot-seed1/images.h5")
    names = ["red circle", "green square", "blue triangle", "yellow cross"]
    own = {n: {c for i, c in caps["captions"].items() if caps["classes"][i] == n} for n in names}
    assert len(store) == 4 * 6 and all(p in own[names[y]] for p, y in zip(store.prompts(), store.labels))
    assert float(store.attrs["strength"]) == 0.75 and store.attrs["captioner"] == "resources/tiny/captioner"
    with h5py.File(project / "work/demo/demo_shapes/synthetic/DISEF-4shot-seed1/keep.h5") as f:
        keep = f["keep"][:]
    rec = json.loads((project / "results/fewshot/demo_shapes/RN50/4shot-seed1/clip-lora-DISEF.json").read_text())
    assert rec["synthetic"]["images"] == len(keep) > 0 and rec["n_train"] == 16 + len(keep)
    assert rec["settings"]["syn_weight"] == 0.2 and rec["synthetic"]["source"] == "DISEF"
    assert by[("4", "DISEF")][4:6] == ["4", "6"] and float(by[("4", "DISEF")][6].split()[0]) > 0
    kept = []  # the table's "used" column: what the filter kept, per class, over the two seeds
    for s in (1, 2):
        with h5py.File(project / f"work/demo/demo_shapes/synthetic/DISEF-4shot-seed{s}/keep.h5") as f:
            kept.append(len(f["keep"]) / 4)
    assert by[("4", "DISEF")][7] == f"{sum(kept) / 2:.3g}" and by[("4", "CLIP-LoRA w. Syn")][7] == "6"


RELABEL = {"red circle": "blue triangle", "blue triangle": "red circle"}  # two classes trade labels
RELABEL_RESULTS = [f"results/zeroshot/demo_shapes/RN50/{v}.json" for v in ("CLIP", "LE+CF-SCE")] + [
    f"results/fewshot/demo_shapes/RN50/4shot-seed1/{m}.json" for m in ("ct-init", "tip", "tip-f", "mix-B", "mix-RG",
                                                                       "coop", "clip-lora", "clip-lora-RG",
                                                                       "clip-lora-DD", "clip-lora-DISEF")]


def test_relabelled_classes_give_every_class_the_same_results(project, demo_models, tmp_path):
    """Two classes trade labels in the data (the split file) and in the dataset YAML alike, a permutation every name
    check accepts. Generation, LE, CF, CT and the few-shot methods must then give each class, by name, exactly the
    results it had: names, text heads, stores, caches and labels stay lined up."""
    import shutil

    snakemake(project, *RELABEL_RESULTS)
    other = copy_workflow(tmp_path / "relabelled", demo_models, ci_scale=True)
    yaml_file = other / "config/datasets/demo_shapes.yaml"
    names = ["red circle", "green square", "blue triangle", "yellow cross"]
    swapped = [RELABEL.get(n, n) for n in names]
    text = yaml_file.read_text()
    assert f"classnames: [{', '.join(names)}]" in text
    yaml_file.write_text(text.replace(f"classnames: [{', '.join(names)}]", f"classnames: [{', '.join(swapped)}]"))
    data = other / "resources/demo-data/demo_shapes"
    shutil.copytree(project / "resources/demo-data/demo_shapes", data)
    split_file = data / "split_zhou_DemoShapes.json"
    split = json.loads(split_file.read_text())
    split_file.write_text(json.dumps({k: [[path, swapped.index(name), name] for path, _, name in rows]
                                      for k, rows in split.items()}))
    snakemake(other, *RELABEL_RESULTS)

    def by_name(root, target):
        rec = json.loads((root / target).read_text())
        return rec, dict(zip(rec["classnames"], rec["metrics"]["recall_per_class"]))

    moved = False
    for target in RELABEL_RESULTS:
        (a, recall_a), (b, recall_b) = by_name(project, target), by_name(other, target)
        assert a["classnames"] == names and b["classnames"] == swapped
        assert recall_a == recall_b and a["metrics"]["acc1"] == b["metrics"]["acc1"], (target, recall_a, recall_b)
        moved |= recall_a["red circle"] != recall_a["blue triangle"]
    assert moved  # the two classes' recalls differ somewhere, so a swap of heads or labels would show
    # the same LE sentences, the same generated and CLIP-filtered images, the same shots, for each class by name
    from synrec.stores import ImageStore

    def kept(root):
        prompts = json.loads((root / "work/demo/demo_shapes/prompts/LE.json").read_text())
        store = ImageStore(root / "work/demo/demo_shapes/synthetic/LE/images.h5")
        with h5py.File(root / "work/demo/demo_shapes/synthetic/LE/cf.h5") as f:
            keep = f["keep"][:]
        with h5py.File(root / "work/demo/demo_shapes/synthetic/LE/images.h5") as f:
            seeds = f["seeds"][:]
        cls = [prompts["classnames"][c] for c in store.labels]
        return (dict(zip(prompts["classnames"], prompts["prompts"])), sorted((cls[i], int(seeds[i])) for i in keep),
                json.loads((root / "work/demo/demo_shapes/fewshot/split-4shot-seed1.json").read_text())["train"])

    assert kept(project) == kept(other)


def test_the_cost_estimate_stands_beside_the_actuals_of_a_run(project, tmp_path):
    target = "results/zeroshot/demo_shapes/RN50/LE+CF-SCE.json"
    snakemake(project, target, unset=("HF_HUB_OFFLINE",))  # the workflow's jobs run offline on their own
    tp = tmp_path / "throughput"  # made-up rates, so the expected estimate is plain arithmetic
    tp.mkdir()
    (tp / "generation_throughput.json").write_text(json.dumps({
        "device": "made up", "best_batch": 8, "s_per_image": 0.5, "startup": {"process_s": 20.0},
        "steps": 10,  # measured at the demo's own 10 steps, so no step scaling
        "batches": {"8": {"share": {"unet_all_steps": 0.8}, "unet_tflops": 100.0}}}))
    (tp / "model_throughput.json").write_text(json.dumps({"clip_RN50_images_per_s": 100.0,
                                                          "clip_ViT-B-16_images_per_s": 50.0, "le_s_per_class": 2.0}))
    (tp / "pretrain.log").write_text("supervised resnet50   bf16   1000.0 img/s   fp32   500.0 img/s\n")
    out = subprocess.run([sys.executable, "-m", "synrec.cost", target, "--estimate", "--compare", "--source",
                          "benchmarks", "--throughput", str(tp), "--out", "est.csv", "--", "--configfile",
                          "config/demo.yaml"], cwd=project, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    with open(project / "est.csv") as f:
        rows = {r["rule"]: r for r in csv.DictReader(f)}
    # demo_shapes: 4 classes, 2 per generation job, 16 images each
    assert rows["generate"]["gpu_jobs"] == "2"
    assert float(rows["generate"]["est_gpu_hours"]) == pytest.approx(2 * (2 * 16 * 0.5 + 20) / 3600, abs=1e-4)
    assert float(rows["prompts"]["est_gpu_hours"]) == pytest.approx((4 * 2.0 + 20) / 3600, abs=1e-4)
    # the actuals: the generate jobs' benchmark files, in GPU-hours (gpu: 1 each, from the workflow profile)
    bench = [float(p.read_text().splitlines()[1].split("\t")[0])
             for p in (project / "work/demo/benchmarks/generate").glob("demo_shapes-LE-*.tsv")]
    assert len(bench) == 2 and float(rows["generate"]["gpu_hours"]) == pytest.approx(sum(bench) / 3600, abs=1e-4)


def test_bad_input_fails_with_one_line_and_no_partial_output(project):
    snakemake(project, "resources/demo-data/demo_shapes")  # the demo data, when this test runs alone
    out = snakemake(project, "-n", "--config", "ct=5", check=False)
    assert out.returncode != 0
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("synrec:")]
    assert lines == ["synrec: workflow config (config/config.yaml + --configfile/--config): key 'ct': 5 is not of "
                     "type 'object'"]
    # a corrupt test image: the features job fails, names the file, and leaves no feature store behind
    split = json.loads((project / "resources/demo-data/demo_shapes/split_zhou_DemoShapes.json").read_text())
    bad = project / "resources/demo-data/demo_shapes/images" / split["test"][3][0]
    bad.write_bytes(b"\x89PNG broken")
    target = "work/demo/demo_shapes/features/RN50/test.h5"
    out = snakemake(project, target, "--forcerun", target, check=False)
    assert out.returncode != 0
    assert f"synrec error in features demo_shapes RN50 test: dataset 'demo_shapes': image {bad.relative_to(project)}" \
           f" is corrupt or not an image" in out.stderr
    assert not (project / target).exists()
    assert not list((project / "work/demo/demo_shapes/features/RN50").glob("*tmp*"))
