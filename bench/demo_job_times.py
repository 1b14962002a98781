"""Where a demo run's time goes: each job's wall time from a Snakemake log, per rule, against the time a fresh Python
takes to import torch (what every job pays before its work, with the workflow's script preamble on top).

    .venv/bin/python bench/demo_job_times.py .snakemake/log/<the run's log>
"""

import collections
import datetime
import re
import subprocess
import sys
import time
from pathlib import Path

from _bench import parser

STAMP = re.compile(r"\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]")


def job_times(text: str) -> list[tuple[str, float]]:
    """``[(rule, seconds)]`` of every finished job: from the stamp above its ``rule``/``jobid`` lines to the stamp
    above its ``Finished job`` line (one-second resolution, as Snakemake logs)."""
    start, rule_of, end, now, rule = {}, {}, {}, None, None
    for line in text.splitlines():
        if m := STAMP.match(line):
            now = datetime.datetime.strptime(re.sub(" +", " ", m.group(1)), "%a %b %d %H:%M:%S %Y")
        elif m := re.match(r"(?:local)?rule (\w+):", line):
            rule = m.group(1)
        elif (m := re.match(r"\s+jobid: (\d+)", line)) and rule:
            start[int(m.group(1))], rule_of[int(m.group(1))], rule = now, rule, None
        elif m := re.match(r"Finished job(?:id:)? (\d+)", line):
            end[int(m.group(1))] = now
    return [(rule_of[j], (end[j] - start[j]).total_seconds()) for j in start if j in end]


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("log")
    args = ap.parse_args()
    jobs = job_times(Path(args.log).read_text())
    per_rule = collections.defaultdict(list)
    for rule, s in jobs:
        per_rule[rule].append(s)
    for rule, times in sorted(per_rule.items(), key=lambda kv: -sum(kv[1])):
        print(f"{rule:24s} {len(times):4d} jobs {sum(times):7.0f} s")
    total = sum(s for _, s in jobs)
    if not jobs:
        print(f"{args.log}: no finished job in this log")
        return
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    torch_s = time.perf_counter() - t0
    print(f"{len(jobs)} jobs, {total:.0f} s of job time; a fresh `python -c 'import torch'` {torch_s:.2f} s, "
          f"x {len(jobs)} jobs = {torch_s * len(jobs):.0f} s ({100 * torch_s * len(jobs) / total:.0f} % of job time)")


if __name__ == "__main__":
    main()
