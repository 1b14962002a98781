"""The workflow profile and the cluster profile fit together: every cluster job has memory and runtime, GPU rules ask
for a GPU, and the cluster profile's account survives the workflow profile (which overrides whole keys)."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

from synrec.cost import (
    cost_rows,
    parse_dry_run,
    parse_dry_run_benchmarks,
    parse_sacct,
    parse_submissions,
    read_benchmarks,
)

REPO = Path(__file__).resolve().parent.parent
GPU_RULES = {"prompts", "generate", "features", "text_head", "real_guidance", "frozen_bn", "coop", "clip_lora",
             "datadream_lora", "datadream_generate", "captions", "disef_generate",
             "shot_features", "partial_tuning", "from_scratch", "generate_pretrain", "pretrain", "transfer_cifar",
             "transfer_voc"}


def _rules():
    text = "\n".join(p.read_text() for p in (REPO / "rules").glob("*.smk"))
    local = re.search(r"localrules:\n((?:    \w+,\n)+)", (REPO / "workflow/Snakefile").read_text()).group(1)
    return set(re.findall(r"^rule (\w+):", text, re.M)), set(re.findall(r"\w+", local))


def test_every_cluster_rule_has_memory_and_runtime_and_gpu_rules_ask_for_one():
    prof = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    assert "default-resources" not in prof  # would silently drop the cluster profile's account
    rules, local = _rules()
    res = prof["set-resources"]
    assert set(res) == rules - local, set(res) ^ (rules - local)
    assert all({"mem_mb", "runtime"} <= set(r) for r in res.values())
    assert {name for name, r in res.items() if r.get("gpu")} == GPU_RULES


def test_cluster_profile_account_and_gpu_requests_reach_the_jobs():
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--profile", "profiles/slurm", "--forceall",
                          "results/table1.csv", "results/table8.csv", "results/table11.csv", "--configfile",
                          "config/demo.yaml"], cwd=REPO, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", out.stdout, re.M)
    assert jobs
    for rule, resources in jobs:
        assert "slurm_account=synrec" in resources, (rule, resources)
        assert bool(re.search(r"\bgpu=[1-9]", resources)) == (rule in GPU_RULES), (rule, resources)


def test_cost_joins_slurm_accounting_with_each_targets_jobs():
    dry = """
rule generate:
    input: x
    wildcards: dataset=demo_shapes, strategy=LE, chunk=00000
rule generate:
    wildcards: dataset=demo_shapes, strategy=LE, chunk=00001
localrule table1:
    input: y
"""
    jobs = parse_dry_run(dry)
    assert jobs == {("generate", "demo_shapes_LE_00000"), ("generate", "demo_shapes_LE_00001"), ("table1", "")}
    subs = parse_submissions(
        "Job 9 has been submitted with SLURM jobid 11 (log: /w/.snakemake/slurm_logs/rule_generate/"
        "demo_shapes_LE_00000/11.log).\n"
        "Job 9 has been submitted with SLURM jobid 12 (log: /w/.snakemake/slurm_logs/rule_generate/"
        "demo_shapes_LE_00000/12.log).\n"
        "Job 4 has been submitted with SLURM jobid 13 (log: /w/.snakemake/slurm_logs/rule_generate/"
        "demo_shapes_LE_00001/13.log).\n"
        "Job 2 has been submitted with SLURM jobid 14 (log: /w/.snakemake/slurm_logs/rule_generate/"
        "other_LE_00000/14.log).\n")
    assert subs["13"] == ("generate", "demo_shapes_LE_00001")
    sacct = parse_sacct("\n".join([
        "11|FAILED|30|billing=1,cpu=1,gres/gpu=1,mem=4G",
        "12|COMPLETED|3600|billing=1,cpu=1,gres/gpu=2,mem=4G",
        "13|COMPLETED|1800|cpu=1,gres/gpu=1",
        "14|COMPLETED|999|cpu=1,gres/gpu=1",  # another target's job
        "15|COMPLETED|5|cpu=1",  # not submitted by this workflow
    ]), subs)
    assert len(sacct) == 4
    rows = cost_rows({"results/table1.csv": jobs}, sacct)
    assert rows == [["results/table1.csv", "generate", 2, 3, 1, f"{(30 + 3600 + 1800) / 3600:.4f}",
                     f"{(30 + 7200 + 1800) / 3600:.4f}"],
                    ["results/table1.csv", "all rules", 2, 3, 1, f"{(30 + 3600 + 1800) / 3600:.4f}",
                     f"{(30 + 7200 + 1800) / 3600:.4f}"]]


def test_cost_from_benchmark_files_without_slurm(tmp_path):
    dry = """
rule features:
    log: logs/features/d-RN50-test.log
    benchmark: benchmarks/features/d-RN50-test.tsv
    wildcards: dataset=d, backbone=RN50, source=test
    resources: tmpdir=/tmp, gpu=1, runtime=240, mem_mb=32000
rule pretrain:
    benchmark: benchmarks/pretrain/a.tsv
    wildcards: ptmethod=supervised, ptmodel=r, space=C100, amount=S, init=random
    resources: tmpdir=/tmp, gpu=8, runtime=240
rule clip_filter:
    wildcards: dataset=d, strategy=LE
    resources: tmpdir=/tmp, runtime=60
localrule table1:
    input: y
"""
    jobs = parse_dry_run_benchmarks(dry)
    assert jobs == {("features", "d_RN50_test"): ("benchmarks/features/d-RN50-test.tsv", 1),
                    ("pretrain", "supervised_r_C100_S_random"): ("benchmarks/pretrain/a.tsv", 8)}
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (tmp_path / "benchmarks/features").mkdir(parents=True)
    values = "360.0\t0:06:00\t900\t1\t1\t1\t0\t0\t90\t300\n"
    (tmp_path / "benchmarks/features/d-RN50-test.tsv").write_text(header + values)
    rows = read_benchmarks(jobs, tmp_path)  # the pretrain job has not run: no file, no row
    assert [(r["rule"], r["seconds"], r["gpus"]) for r in rows] == [("features", 360.0, 1)]
    table = cost_rows({"results/table1.csv": set(jobs)}, rows)
    assert table[0] == ["results/table1.csv", "features", 1, 1, 0, "0.1000", "0.1000"]
