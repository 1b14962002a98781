"""Put the repository root on sys.path so scripts import this checkout's synrec package, also inside a conda env
that Snakemake built from envs/synrec.yaml (where synrec itself is not pip-installed)."""
import sys
from pathlib import Path

_root = str(Path(__file__).resolve().parent.parent)
if _root not in sys.path:
    sys.path.insert(0, _root)
