"""Mutation score of the method modules: mutmut (3.x) plants one small change at a time into each module (an
operator, a constant, a dropped call) and runs the tests that cover it; a mutant the tests do not catch "survived".
A bench, not CI: it takes minutes to hours, and mutmut is not one of the pinned packages.

    pip install --target /tmp/mutmut-lib mutmut==3.8.1      # once, outside .venv (then delete its pytest, pluggy,
                                                             # packaging, platformdirs, iniconfig, yaml copies)
    .venv/bin/python bench/mutation.py --lib /tmp/mutmut-lib [--modules sce clip_filter ...]

It runs on a copy of the checkout's committed files (git archive HEAD) in a temporary folder, and prints killed,
survived, the other outcomes and the score (killed / (killed + survived)) per run, with the survivors' names.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import parser, save

REPO = Path(__file__).resolve().parent.parent
#: module -> the test files that exercise it (fast ones: each mutant reruns the tests that cover its function)
MODULES = {
    "sce": ["tests/test_losses_filter_ct.py"],
    "clip_filter": ["tests/test_losses_filter_ct.py"],
    "real_filter": ["tests/test_few_shot.py"],
    "frozen_bn": ["tests/test_frozen_bn.py"],
    "intervals": ["tests/test_intervals.py"],
    "disef": ["tests/test_disef.py", "tests/test_scripts.py"],  # deselect the captioner's: own_picture or captioner
}


def main() -> None:
    ap = parser(__doc__, out="mutation")
    ap.add_argument("--lib", help="folder where mutmut is installed (pip install --target)")
    ap.add_argument("--modules", nargs="+", default=list(MODULES), choices=list(MODULES))
    ap.add_argument("--max-children", type=int, default=2)
    ap.add_argument("--deselect", default="learns_from_the_shots",
                    help="pytest -k expression of tests left out of every mutant's run (minutes-long ones)")
    args = ap.parse_args()
    tests = sorted({t for m in args.modules for t in MODULES[m]})
    with tempfile.TemporaryDirectory(prefix="synrec-mutation-") as tmp:
        parts = ["synrec", "tests", "config", "bench", "tools", "scripts", "pyproject.toml"]
        archive = subprocess.run(["git", "archive", "HEAD", *parts], cwd=REPO, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        conf = {"source_paths": ["synrec"], "only_mutate": [f"synrec/{m}.py" for m in args.modules],
                "also_copy": ["config", "tests", "bench", "tools", "scripts"],
                "pytest_add_cli_args": ["-p", "no:cacheprovider", "-k", f"not {args.deselect}"],
                "pytest_add_cli_args_test_selection": tests}
        with open(Path(tmp) / "pyproject.toml", "a") as f:  # mutmut reads [tool.mutmut]
            f.write("\n[tool.mutmut]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in conf.items()))
        env = {**os.environ, "HF_HUB_OFFLINE": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [args.lib, os.environ.get("PYTHONPATH")]))}
        t0 = time.time()
        run = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)],
                             cwd=tmp, env=env, capture_output=True, text=True)
        took = time.time() - t0
        if run.returncode != 0:
            raise SystemExit(f"mutmut run failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        subprocess.run([sys.executable, "-m", "mutmut", "export-cicd-stats"], cwd=tmp, env=env, check=True,
                       capture_output=True)
        stats = json.loads((Path(tmp) / "mutants" / "mutmut-cicd-stats.json").read_text())
        results = subprocess.run([sys.executable, "-m", "mutmut", "results"], cwd=tmp, env=env, capture_output=True,
                                 text=True).stdout
    survived = [line.split(":")[0].strip() for line in results.splitlines() if line.strip().endswith("survived")]
    killed, alive = stats.get("killed", 0), stats.get("survived", 0)
    score = killed / max(1, killed + alive)
    print(f"modules {', '.join(args.modules)}; tests {', '.join(tests)}; {took:.0f} s")
    print(" ".join(f"{k} {v}" for k, v in stats.items()))
    print(f"mutation score {100 * score:.1f} % (killed {killed} / killed + survived {killed + alive})")
    for name in survived:
        print(f"  survived: {name}")
    save(args.out, {"modules": args.modules, "tests": tests, "seconds": took, "stats": stats, "score": score,
                    "survived": survived})


if __name__ == "__main__":
    main()
