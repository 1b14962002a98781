"""What a cluster run cost, per table target and per rule, from SLURM's own accounting: ``results/cost.csv``.

After ``snakemake --profile slurm …``, SLURM accounting (``sacct``, backed by slurmdbd) knows every job the run
submitted, and Snakemake's own run logs (``.snakemake/log/*.snakemake.log``) say which SLURM job id ran which
(rule, wildcards): the executor plugin logs ``… submitted with SLURM jobid J (log: …/slurm_logs/rule_<rule>/<wildcard
values joined by _>/J.log)``. (The plugin's ``--comment`` carries the same, but ``sacct`` shows comments only where
the cluster sets ``AccountingStoreFlags=job_comment``.) The workflow's dry run (``--forceall -n``) tells which jobs
each table target is made of. Joining the three gives, per target and rule: the jobs, the attempts (a retried job
counts each attempt), the wall-clock hours
and the GPU-hours (elapsed × GPUs allocated, from ``AllocTRES``) actually spent. A job shared by two targets (the
test-split features of Tables 1 and 2, say) is counted in both: each row says what that target alone would cost.

    python -m synrec.cost results/table1.csv results/table2.csv --out results/cost.csv -- --configfile config/demo.yaml

Before a run, ``--estimate`` prints what the targets will cost instead (:mod:`synrec.estimate`: the DAG's work
times measured throughputs; ``--without-data`` builds the DAG against empty dataset folders, so it works before any
dataset is downloaded); with ``--compare`` the estimate stands beside the actuals of a finished run.

    python -m synrec.cost --estimate --without-data results/table1.csv results/table8.csv

Without SLURM (a workstation run, or a cluster without slurmdbd) ``--source benchmarks`` reads the per-job
``<work_dir>/benchmarks/<rule>/<wildcards>.tsv`` files that the heavy rules write (Snakemake's ``benchmark:``;
seconds of wall time) and takes GPUs from each job's ``gpu`` resource in the workflow profile. Rules without a
benchmark file (the cheap ones) are not counted there.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from .atomic import write_text
from .errors import SynrecError

SACCT_FIELDS = ["JobIDRaw", "State", "ElapsedRaw", "AllocTRES"]
HEADER = ["target", "rule", "jobs", "attempts", "failed_attempts", "wall_hours", "gpu_hours"]
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (.*?)\)")


def parse_dry_run_jobs(text: str) -> dict[tuple[str, str], tuple[str | None, int]]:
    """``{(rule, wildcard values joined by '_'): (benchmark file or None, GPUs requested)}`` of the jobs a
    ``snakemake -n`` listing shows."""
    found, rule, bench, gpus, key = {}, None, None, 0, ""
    for line in text.splitlines() + ["rule end:"]:
        line = line.strip()
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            if rule is not None:
                found[(rule, key)] = (bench, gpus)
            rule, bench, gpus, key = m.group(1), None, 0, ""
        elif line.startswith("benchmark: "):
            bench = line.removeprefix("benchmark: ")
        elif line.startswith("wildcards: "):
            values = [kv.split("=", 1)[1] for kv in re.split(r", (?=\w+=)", line.removeprefix("wildcards: "))]
            key = "_".join(values).replace("/", "_")
        elif line.startswith("resources: "):
            m = re.search(r"\bgpu=(\d+)", line)
            gpus = int(m.group(1)) if m else 0
    return found


def parse_dry_run(text: str) -> set[tuple[str, str]]:
    """``{(rule, wildcard values joined by '_')}`` of the jobs a ``snakemake -n`` listing shows."""
    return set(parse_dry_run_jobs(text))


def parse_dry_run_benchmarks(text: str) -> dict[tuple[str, str], tuple[str, int]]:
    """``{(rule, wildcards): (benchmark file, GPUs requested)}`` of the listed jobs that write a benchmark file."""
    return {job: info for job, info in parse_dry_run_jobs(text).items() if info[0] is not None}


def dry_run(target: str, snakemake_args: list[str], cwd=None, workflow_profile: bool = False) -> str:
    profile = [] if workflow_profile else ["--workflow-profile", "none"]
    cmd = [sys.executable, "-m", "snakemake", target, "--forceall", "-n", *profile, *snakemake_args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if out.returncode != 0:
        last = (out.stderr or out.stdout).strip().splitlines()
        raise SynrecError(f"cost: the dry run for {target} failed: {last[-1] if last else out.returncode}")
    return out.stdout


def target_jobs(target: str, snakemake_args: list[str], cwd=None) -> set[tuple[str, str]]:
    return parse_dry_run(dry_run(target, snakemake_args, cwd))


def read_benchmarks(jobs: dict[tuple[str, str], tuple[str, int]], root: str | Path = ".") -> list[dict]:
    """Rows shaped like :func:`parse_sacct`'s from the benchmark files of ``jobs`` that exist (one attempt each:
    a benchmark file records the attempt that succeeded)."""
    rows = []
    for (rule, wildcards), (path, gpus) in jobs.items():
        f = Path(root) / path
        if not f.is_file():
            continue
        lines = f.read_text().splitlines()
        if len(lines) < 2:
            raise SynrecError(f"cost: {f}: expected a header and one row of Snakemake benchmark values")
        row = dict(zip(lines[0].split("\t"), lines[1].split("\t")))
        if "s" not in row:
            raise SynrecError(f"cost: {f}: no 's' (seconds) column")
        rows.append({"jobid": str(f), "rule": rule, "wildcards": wildcards, "state": "COMPLETED",
                     "seconds": float(row["s"]), "gpus": gpus})
    return rows


def parse_submissions(text: str) -> dict[str, tuple[str, str]]:
    """``{slurm_jobid: (rule, wildcards)}`` from Snakemake run logs (the plugin's per-job SLURM log path)."""
    out = {}
    for jobid, path in SUBMITTED.findall(text):
        parts = Path(path).parts
        idx = next((i for i, p in enumerate(parts) if p.startswith("rule_")), None)
        if idx is None:
            continue
        rule = parts[idx][len("rule_"):]
        wildcards = parts[idx + 1] if idx + 2 < len(parts) else ""
        out[jobid] = (rule, wildcards)
    return out


def read_submissions(log_dir: str | Path = ".snakemake/log") -> dict[str, tuple[str, str]]:
    logs = sorted(Path(log_dir).glob("*.snakemake.log"))
    if not logs:
        raise SynrecError(f"cost: no Snakemake run logs in {log_dir} (run from the directory the workflow ran in)")
    found = {}
    for log in logs:
        found.update(parse_submissions(log.read_text(errors="replace")))
    return found


def gpus_of(tres: str) -> int:
    m = re.search(r"gres/gpu=(\d+)", tres)
    return int(m.group(1)) if m else 0


def parse_sacct(text: str, submissions: dict[str, tuple[str, str]]) -> list[dict]:
    """Rows of ``sacct -X -P -n --format=JobIDRaw,State,ElapsedRaw,AllocTRES`` for the workflow's jobs."""
    rows = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) != len(SACCT_FIELDS) or parts[0] not in submissions:
            continue
        jobid, state, elapsed, tres = parts
        rule, wildcards = submissions[jobid]
        rows.append({"jobid": jobid, "rule": rule, "wildcards": wildcards, "state": state.split()[0],
                     "seconds": int(elapsed or 0), "gpus": gpus_of(tres)})
    return rows


def read_sacct(jobids, submissions) -> list[dict]:
    if not jobids:
        return []
    cmd = ["sacct", "-X", "-P", "-n", "-j", ",".join(sorted(jobids, key=int)), f"--format={','.join(SACCT_FIELDS)}"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise SynrecError("cost: sacct not found (SLURM accounting is needed for results/cost.csv)") from None
    if out.returncode != 0:
        err = out.stderr.strip().splitlines()
        raise SynrecError(f"cost: sacct failed: {err[-1] if err else out.returncode}")
    return parse_sacct(out.stdout, submissions)


def cost_rows(targets: dict[str, set[tuple[str, str]]], sacct_rows: list[dict]) -> list[list]:
    """Per target, one row per rule and a total row (rule ``all rules``)."""
    by_job = defaultdict(list)
    for r in sacct_rows:
        by_job[(r["rule"], r["wildcards"])].append(r)
    rows = []
    for target, jobs in targets.items():
        per_rule: dict = defaultdict(lambda: [set(), 0, 0, 0.0, 0.0])
        for key in jobs:
            for r in by_job.get(key, []):
                acc = per_rule[r["rule"]]
                acc[0].add(key)
                acc[1] += 1
                acc[2] += r["state"] != "COMPLETED"
                acc[3] += r["seconds"] / 3600
                acc[4] += r["seconds"] * r["gpus"] / 3600
        total = [0, 0, 0, 0.0, 0.0]
        for rule in sorted(per_rule):
            jobset, attempts, failed, wall, gpu = per_rule[rule]
            rows.append([target, rule, len(jobset), attempts, failed, f"{wall:.4f}", f"{gpu:.4f}"])
            for i, v in enumerate((len(jobset), attempts, failed, wall, gpu)):
                total[i] += v
        rows.append([target, "all rules", total[0], total[1], total[2], f"{total[3]:.4f}", f"{total[4]:.4f}"])
    return rows


def write_cost(path, rows: list[list]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(rows)
    write_text(path, buf.getvalue())


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(prog="python -m synrec.cost", description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="+", help="table targets, e.g. results/table1.csv")
    ap.add_argument("--logs", default=".snakemake/log", help="Snakemake's run logs (all runs there are counted)")
    ap.add_argument("--out", default="results/cost.csv")
    ap.add_argument("--source", choices=["sacct", "benchmarks"], default="sacct",
                    help="SLURM accounting (default), or the rules' benchmark files for runs without SLURM")
    ap.add_argument("--estimate", action="store_true",
                    help="estimate GPU-hours from the DAG and measured throughputs (before a run)")
    ap.add_argument("--throughput", default=None, help="folder of benchmark outputs (default: bench/results/h100)")
    ap.add_argument("--without-data", action="store_true", help="with --estimate: build the DAG on empty data folders")
    ap.add_argument("--compare", action="store_true", help="with --estimate: beside the actuals of --source")
    args = ap.parse_args(argv)
    if args.estimate:
        try:
            rows = run_estimate(args, extra)
        except SynrecError as exc:
            sys.exit(f"synrec: {exc}")
        return
    try:
        if args.source == "benchmarks":
            bench = {t: parse_dry_run_benchmarks(dry_run(t, extra, workflow_profile=True)) for t in args.targets}
            targets = {t: set(jobs) for t, jobs in bench.items()}
            rows = cost_rows(targets, read_benchmarks({k: v for jobs in bench.values() for k, v in jobs.items()}))
        else:
            targets = {t: target_jobs(t, extra) for t in args.targets}
            submissions = read_submissions(args.logs)
            rows = cost_rows(targets, read_sacct(submissions.keys(), submissions))
    except SynrecError as exc:
        sys.exit(f"synrec: {exc}")
    write_cost(args.out, rows)
    print(f"{args.out}: {len(rows)} rows")


def actual_rows(args, extra: list[str]) -> list[list]:
    if args.source == "benchmarks":
        bench = {t: parse_dry_run_benchmarks(dry_run(t, extra, workflow_profile=True)) for t in args.targets}
        targets = {t: set(jobs) for t, jobs in bench.items()}
        return cost_rows(targets, read_benchmarks({k: v for jobs in bench.values() for k, v in jobs.items()}))
    targets = {t: target_jobs(t, extra) for t in args.targets}
    submissions = read_submissions(args.logs)
    return cost_rows(targets, read_sacct(submissions.keys(), submissions))


def run_estimate(args, extra: list[str]) -> list[list]:
    """``--estimate``: print and write the estimate table (and the actuals beside it with ``--compare``)."""
    import tempfile

    from . import estimate

    cfg = estimate.snakemake_config(extra)
    throughput = estimate.read_throughput(args.throughput or estimate.DEFAULT_THROUGHPUT)
    with tempfile.TemporaryDirectory() as tmp:
        dry_args = list(extra)
        if args.without_data:
            override = estimate.empty_data_override(cfg, tmp)
            files = [a for i, a in enumerate(extra) if i and extra[i - 1] in ("--configfile", "--configfiles")]
            dry_args = [a for a in extra if a not in files and a not in ("--configfile", "--configfiles")]
            dry_args += ["--configfile", "config/config.yaml", *files, str(override)]
        targets = {t: estimate.parse_jobs(dry_run(t, dry_args, workflow_profile=True)) for t in args.targets}
    est = estimate.Estimator(cfg, throughput)
    rows = estimate.estimate_rows(targets, est)
    header = ["target", "rule", "jobs", "gpu_jobs", "est_gpu_hours"]
    if args.compare:
        actual = {(r[0], r[1]): r for r in actual_rows(args, extra)}
        header += ["gpu_hours", "wall_hours", "attempts"]
        rows = [r + ([actual[(r[0], r[1])][6], actual[(r[0], r[1])][5], actual[(r[0], r[1])][3]]
                     if (r[0], r[1]) in actual else ["", "", ""]) for r in rows]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    out = args.out if args.out != "results/cost.csv" else "results/cost_estimate.csv"
    write_text(out, buf.getvalue())
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for r in [header, *rows]:
        print("  ".join(str(x).rjust(n) if i >= 2 else str(x).ljust(n) for i, (x, n) in enumerate(zip(r, widths))))
    print(f"\nthroughputs: {throughput['source']} ({throughput['device']}); {throughput['gen_s_per_image']:.3f} s "
          f"per generated image, job start-up {throughput['startup_s']:.1f} s")
    for key in sorted(est.assumed):
        print(f"assumed: {est.assumptions[key][1]}: {est.assumptions[key][0]:g}")
    print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    main()


def _job_seconds(benchmarks: list[str | Path]) -> float | None:
    """Summed wall time (column ``s``, the last repeat of each: Snakemake's ``repeat`` writes a row each) of the jobs
    whose Snakemake benchmark files are given; None when a file is missing (a job run without benchmarks)."""
    seconds = 0.0
    for path in benchmarks:
        if not Path(path).is_file():
            return None
        with open(path) as fh:
            seconds += float(list(csv.DictReader(fh, delimiter="\t"))[-1]["s"])
    return seconds


def generation_hours_per_1k(benchmarks: list[str | Path], n_images: int) -> float | None:
    """Device-hours per 1,000 images from the generation jobs' Snakemake benchmark files (model loading included);
    None when a file is missing."""
    seconds = _job_seconds(benchmarks)
    return seconds / 3600 / (n_images / 1000) if n_images and seconds is not None else None


def job_hours(runs: list[list[str | Path]]) -> float | None:
    """Mean over runs (a method's seeds) of the summed wall-clock hours of each run's jobs, from their Snakemake
    benchmark files; 0.0 for runs with no job of their own; None when a file is missing."""
    seconds = [_job_seconds(files) for files in runs]
    if not runs or any(s is None for s in seconds):
        return None
    return sum(seconds) / 3600 / len(runs)
