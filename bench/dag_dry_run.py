"""How long Snakemake takes to build the DAG of the full paper config (17 datasets x 2 backbones x all strategies).

Real datasets are not needed for a dry run, only their folders: this script makes empty ones in a temp dir and
runs `snakemake -n` on config/config.yaml against them. Prints the job count per rule and the wall-clock seconds.

    .venv/bin/python bench/dag_dry_run.py
"""

import re
import subprocess
import sys
import tempfile

import yaml
from _bench import REPO, parser, seconds

from synrec.config import validate
from synrec.estimate import empty_data_override


def main() -> None:
    parser(__doc__).parse_args()
    cfg = validate(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), REPO / "config" / "schema.yaml",
                   "config")
    with tempfile.TemporaryDirectory() as tmp:
        override = empty_data_override(cfg, tmp, REPO, outputs_too=True)
        cmd = [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--cores", "2", "--configfile",
               "config/config.yaml", str(override)]
        runs = []
        took = seconds(lambda: runs.append(subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)))
        out = runs[0]
    if out.returncode != 0:
        sys.exit(out.stdout[-2000:] + out.stderr[-2000:])
    table = out.stdout + out.stderr
    total = re.search(r"^total\s+(\d+)", table, re.M)
    print(table[table.find("job"):].strip() if "job" in table else table)
    print(f"\nfull paper config: {total.group(1) if total else '?'} jobs, DAG built in {took:.1f} s "
          f"(snakemake -n, {len(cfg['datasets'])} datasets x {len(cfg['backbones'])} backbones)")


if __name__ == "__main__":
    main()
