"""Put the repository root on sys.path so scripts import this checkout's synrec package, also inside a conda env
that Snakemake built from envs/synrec.yaml (where synrec itself is not pip-installed)."""
import sys
from pathlib import Path

_root = str(Path(__file__).resolve().parent.parent)
if _root not in sys.path:
    sys.path.insert(0, _root)


def _one_line_on_interrupt(kind, value, tb, _default=sys.excepthook):
    """Ctrl-C (Snakemake passes it to every running job): one line, not a KeyboardInterrupt traceback per job, also
    while the imports run (synrec.runlog.rule_log says the same, naming the job, once its block has started)."""
    if issubclass(kind, KeyboardInterrupt):
        print("synrec: job interrupted", file=sys.stderr, flush=True)
        return
    _default(kind, value, tb)


sys.excepthook = _one_line_on_interrupt
