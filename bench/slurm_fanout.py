"""Fan-out through the SLURM plugin: N short per-"class" jobs, one job each, capped by `jobs:` vs submitted as arrays.

Needs a running SLURM with accounting (`tests/slurm/cluster.sh up`, or a real cluster) and runs, side by side in one
process, the same toy workflow (N jobs that each sleep S seconds, the shape of per-class generation) twice:
  capped:  one sbatch per job, at most J queued or running (`--jobs J`, what profiles/slurm does)
  arrays:  the plugin's `--slurm-array-jobs all` (ready jobs of a rule go out as one array)
and prints the wall time and the most jobs SLURM held at once (squeue, polled every 0.5 s) for each.

    SYNREC_SLURM_DIR=/tmp/synrec-slurm tests/slurm/cluster.sh up
    .venv/bin/python bench/slurm_fanout.py [--jobs-total 60] [--cap 10] [--sleep 2]
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _bench import parser, ratio

SNAKEFILE = """
rule all:
    input: expand("out/{{i}}.txt", i=range({n}))

rule work:
    output: "out/{{i}}.txt"
    resources: runtime=5, mem_mb=100, slurm_account="synrec"
    shell: "sleep {sleep}; echo {{wildcards.i}} > {{output}}"
"""


def run(workdir: Path, extra: list[str]) -> tuple[float, int]:
    peak, done = [0], threading.Event()

    def poll():
        while not done.is_set():
            q = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True).stdout
            peak[0] = max(peak[0], len(q.split()))
            time.sleep(0.5)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "snakemake", "--executor", "slurm", "--workflow-profile", "none",
                          "--slurm-init-seconds-before-status-checks", "2", "--max-status-checks-per-second", "2",
                          "--default-resources", "slurm_partition=debug", *extra],
                         cwd=workdir, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    done.set()
    t.join()
    if out.returncode != 0:
        sys.exit(f"snakemake failed in {workdir}:\n{out.stderr[-2000:]}")
    return elapsed, peak[0]


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--jobs-total", type=int, default=60)
    ap.add_argument("--cap", type=int, default=10)
    ap.add_argument("--sleep", type=float, default=2.0)
    args = ap.parse_args()
    if "SLURM_CONF" not in os.environ and not Path("/etc/slurm/slurm.conf").exists():
        sys.exit("no SLURM here: start tests/slurm/cluster.sh up first")
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        results = {}
        for name, extra in (("capped", ["--jobs", str(args.cap)]),
                            ("arrays", ["--jobs", str(args.jobs_total), "--slurm-array-jobs", "all"])):
            wd = Path(tmp) / name
            wd.mkdir()
            (wd / "Snakefile").write_text(SNAKEFILE.format(n=args.jobs_total, sleep=args.sleep))
            results[name] = run(wd, extra)
    for name, (elapsed, peak) in results.items():
        print(f"{name:7s} {args.jobs_total} jobs of {args.sleep:.0f} s: {elapsed:6.1f} s wall, at most {peak} in SLURM")
    ratio("wall time", "capped", results["capped"][0], "arrays", results["arrays"][0])


if __name__ == "__main__":
    main()
