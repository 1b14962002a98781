"""The workflow's DAG and its checks before any job runs, without running a job: dry runs on the demo and the
paper's configs, the list of missing inputs, `snakemake --lint`. Up to about half a minute each; no trained model
needed."""

import subprocess
import sys

import pytest
from conftest import REPO, copy_workflow, snakemake

pytestmark = pytest.mark.slow  # about three minutes in all: CI runs them, `-m "not slow"` does not


@pytest.mark.parametrize("dataset", ["demo_shapes", "demo_cifar"])
def test_restricting_datasets_builds_a_dag_for_that_dataset_alone(tmp_path, dataset):
    """--config datasets=[one] with the demo config: sections that name the other dataset (the demo data, Table 4,
    CIFAR transfer) no longer break the DAG (it used to stop with a bare KeyError)."""
    wf = copy_workflow(tmp_path)
    out = snakemake(wf, "-n", overrides=["--config", f"datasets=[{dataset}]"])
    other = {"demo_shapes": "demo_cifar", "demo_cifar": "demo_shapes"}[dataset]
    assert f"results/zeroshot/{dataset}/RN50/LE+CF-SCE.json" in out.stdout
    assert f"results/zeroshot/{other}/" not in out.stdout


def test_every_missing_dataset_and_model_is_listed_before_any_job_runs(tmp_path):
    wf = copy_workflow(tmp_path)
    (wf / "c.yaml").write_text(
        f"datasets: [eurosat, dtd]\ndata_root: {tmp_path / 'nodata'}\nbackbones: [RN50]\n"
        "models:\n  clip:\n    RN50: {model: ./nomodels/rn50}\n"
    )
    cmd = [sys.executable, "-m", "snakemake", "results/table1.csv", "--cores", "1", "--configfile", "c.yaml"]
    out = subprocess.run(cmd, cwd=wf, capture_output=True, text=True)
    assert out.returncode != 0
    assert "synrec: 5 input(s) missing or incomplete, nothing was submitted:" in out.stderr, out.stderr[-2000:]
    for what in ("dataset 'eurosat': folder", "dataset 'dtd': folder", "model 'clip-RN50': ./nomodels/rn50",
                 f"python -m synrec.prepare dtd --data-root {tmp_path / 'nodata'}; or leave it out",
                 # the paper's hub models, not in this offline test's empty cache (synrec.models.check_model)
                 "text-to-image model 'CompVis/stable-diffusion-v1-4' is not in the Hugging Face cache",
                 "word-to-sentence model 'mrm8488/t5-base-finetuned-common_gen' is not in the Hugging Face cache"):
        assert what in out.stderr
    assert not (wf / "work/logs").exists() and not (wf / "results").exists()  # no job ran
    # one dataset's target: only what it needs is listed
    one = subprocess.run([*cmd[:3], "results/zeroshot/dtd/RN50/CLIP.json", *cmd[4:]], cwd=wf, capture_output=True,
                         text=True)
    assert "2 input(s) missing or incomplete" in one.stderr and "eurosat" not in one.stderr
    # a folder that is there but not complete: the full check of synrec.datasets --check, also before any job
    (tmp_path / "nodata" / "dtd").mkdir(parents=True)
    one = subprocess.run([*cmd[:3], "results/zeroshot/dtd/RN50/CLIP.json", *cmd[4:]], cwd=wf, capture_output=True,
                         text=True)
    assert "dataset 'dtd' split 'test' is incomplete: dataset 'dtd': split file" in one.stderr, one.stderr[-2000:]
    assert not (wf / "work/logs").exists()
    # its split file is there, its images are not: found before the run, not adopted into a manifest
    import shutil

    from synrec import demo_data
    from synrec.config import load_dataset_config

    dtd = load_dataset_config("dtd", wf / "config/datasets")
    demo_data.write_coop_split(tmp_path / "nodata" / "dtd", dtd["classnames"], {"test": 1}, dtd["split_file"],
                               images=dtd["images"], size=8)
    shutil.rmtree(tmp_path / "nodata" / "dtd" / dtd["images"])
    one = subprocess.run([*cmd[:3], "results/zeroshot/dtd/RN50/CLIP.json", *cmd[4:]], cwd=wf, capture_output=True,
                         text=True)
    assert "dataset 'dtd' split 'test' is incomplete: test: 47 of 47 listed images do not exist" in one.stderr
    assert not (wf / "work/manifests/data/dtd").exists()
    # every image there, 47 where dtd.yaml's published counts say 1,692: a partial download, found the same way
    demo_data.write_coop_split(tmp_path / "nodata" / "dtd", dtd["classnames"], {"test": 1}, dtd["split_file"],
                               images=dtd["images"], size=8)
    one = subprocess.run([*cmd[:3], "results/zeroshot/dtd/RN50/CLIP.json", *cmd[4:]], cwd=wf, capture_output=True,
                         text=True)
    short = "dataset 'dtd' split 'test' is incomplete: test: 47 images, but key 'counts' of"
    assert short in one.stderr and "says 1,692 (a partial download" in one.stderr, one.stderr[-2000:]
    assert not (wf / "work/manifests/data/dtd").exists()
    # without the counts the split passes and is adopted; with them back, the next run checks the adopted split's
    # count again (without reading it) and stops before any job
    yaml_path = wf / "config/datasets/dtd.yaml"
    shipped = yaml_path.read_text()
    yaml_path.write_text(shipped.split("\ncounts:")[0] + "\n")
    one = subprocess.run([*cmd[:3], "results/zeroshot/dtd/RN50/CLIP.json", *cmd[4:]], cwd=wf, capture_output=True,
                         text=True)
    assert "1 input(s) missing or incomplete" in one.stderr and "model 'clip-RN50'" in one.stderr, one.stderr[-2000:]
    assert (wf / "work/manifests/data/dtd/test.json").exists()
    yaml_path.write_text(shipped)
    one = subprocess.run([*cmd[:3], "results/zeroshot/dtd/RN50/CLIP.json", *cmd[4:]], cwd=wf, capture_output=True,
                         text=True)
    assert "2 input(s) missing or incomplete" in one.stderr and short in one.stderr, one.stderr[-2000:]
    assert not (wf / "work/logs").exists()


def test_lint_is_clean():
    out = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--configfile", "config/demo.yaml"],
                         cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0 and "Congratulations, your workflow is in a good condition!" in out.stdout + out.stderr


def test_full_paper_config_builds_its_dag_with_one_generation_job_per_class(tmp_path):
    import re

    import yaml

    from synrec.config import load_dataset_config

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    dcfg = {d: load_dataset_config(d, REPO / "config/datasets") for d in cfg["datasets"]}
    n_classes = {d: len(c["classnames"]) for d, c in dcfg.items()}
    for d in cfg["datasets"]:
        (tmp_path / load_dataset_config(d, REPO / "config/datasets")["root"]).mkdir(parents=True, exist_ok=True)
    pt = cfg["pretraining"]
    (tmp_path / pt["voc"]["root"]).mkdir()
    (tmp_path / "moco.pth.tar").touch()  # the one IN-1k weights file of the config must exist for a dry run
    (tmp_path / "o.yaml").write_text(yaml.safe_dump({
        "data_root": str(tmp_path), "work_dir": f"{tmp_path}/w", "results_dir": f"{tmp_path}/r",
        "pretraining": {"in1k_weights": {"mocov2": {"resnet50": str(tmp_path / "moco.pth.tar")}}}}))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--cores", "2",
                          "--configfile", "config/config.yaml", str(tmp_path / "o.yaml")],
                         cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    counts = {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", out.stdout + out.stderr, re.M)}
    table2 = cfg["table2"]["datasets"]
    fs = cfg["few_shot"]["datasets"]
    runs = len(cfg["few_shot"]["shots"]) * len(cfg["few_shot"]["seeds"])  # (K, seed) pairs: 5 x 3
    # LE images for every dataset (Table 1's LE+CF) and B images for Table 2's datasets, one job per class
    assert counts["generate"] == sum(n_classes.values()) + sum(n_classes[d] for d in table2)
    # real guidance: one job per 10 classes for every (K, seed) of the 8 few-shot datasets
    assert counts["real_guidance"] == sum(-(-n_classes[d] // 10) for d in fs) * runs
    # DataDream (issue 29): per (K, seed), one LoRA job and one generation job per 10 classes (a LoRA per class)
    assert counts["datadream_lora"] == counts["datadream_generate"] == counts["real_guidance"]
    # DISEF: per (K, seed), one captioning job, one img2img job per 10 classes, and its filter
    assert counts["disef_generate"] == counts["real_guidance"] and counts["captions"] == len(fs) * runs
    assert counts["disef_filter"] == len(fs) * runs
    assert counts["merge_images"] == len(cfg["datasets"]) + len(table2) + 3 * len(fs) * runs  # RG, DD and DISEF
    assert counts["clip_lora"] == len(fs) * runs * 4  # on the shots, + RG, + DataDream, + DISEF images
    assert counts["strategies_table"] == 1
    # test and LE features for 17 x 2 backbones, B for Table 2's datasets, and on RN50 for the few-shot datasets:
    # the train split, the val split where one exists apart from the test split, and each RG and DISEF store
    with_val = [d for d in fs if "val" in dcfg[d]["splits"]]
    assert len(with_val) == 7  # all but ImageNet, whose 'val' folder is its test split
    assert counts["features"] == 17 * 2 * 2 + len(table2) + len(fs) + len(with_val) + 2 * len(fs) * runs  # RG, DISEF
    assert counts["classifier_tuning"] == 17 * 2 + len(table2) * 5  # LE+CF-SCE everywhere, + 5 for Table 2
    seeds = len(cfg["few_shot"]["seeds"])
    assert counts["few_shot_split"] == len(fs) * runs
    assert counts["real_filter"] == seeds  # only Table 5 (EuroSAT, 16 shots) uses RF
    # Figure 1: 4 methods everywhere; Table 5: mix-B and mix-RF at 16 shots; Table 7: the two phase-wise orders
    assert counts["few_shot_train"] == len(fs) * runs * 4 + 2 * seeds + 2 * runs
    assert counts["coop"] == len(fs) * runs
    assert counts["partial_tuning"] == 7 and counts["table3"] == 1  # Table 3: head only ... everything
    assert counts["from_scratch"] == 1 + 8 and counts["table4"] == 1  # Table 4: synthetic + 8 real subset sizes
    assert counts["frozen_bn"] == seeds * 2 + 2  # Table 6: real shots per seed, LE+CF images once; x BN train/frozen
    assert counts["table1"] == counts["table2"] == counts["table5"] == counts["table6"] == counts["table7"] == 1
    assert counts["figure1"] == 1
    # Sec. 3.3: each class list generated once, to the most images per class any cell needs, in 2,000-image blocks:
    # CIFAR-100 3.6M / 100 = 36,000 (18 blocks), ImageNet-1K 2.4M / 1,000 = 2,400 (2), the IN-21K extra 4.0M / 2,000
    assert counts["generate_pretrain"] == 100 * 18 + 1000 * 2 + 1000 * 1
    cells = {t: [(r["data"], c, r.get("in1k", False)) for r in spec["rows"] for c in r["columns"]]
             for t, spec in pt["tables"].items()}
    pre = {(pt["tables"][t]["method"], pt["tables"][t]["model"], *cell) for t in cells for cell in cells[t]
           if cell[0] != "none"}
    assert counts["pretrain"] == len(pre) == 22
    assert counts["transfer_cifar"] == len(cells["table8"]) + len(cells["table9"])
    assert counts["transfer_voc"] == len(cells["table10"]) + len(cells["table11"]) - 1  # shared random-init cell
    assert counts["pretrain_table"] == 4
