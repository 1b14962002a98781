"""What the bench scripts share, so that each script is its measurement alone: the argument parser (its description
the script's first docstring paragraph, ``--out`` where the JSON result goes), the device and its name, timing with
GPU synchronisation, the one-row side-by-side ratio, peak memory, and writing the result.

Run a bench from the repository root as ``.venv/bin/python bench/<name>.py``; results go to ``bench/results/local/``
(git-ignored) unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # the checkout's synrec, also without an editable install
    sys.path.insert(0, str(REPO))
RESULTS = Path("bench/results/local")


def parser(doc: str, out: str | None = None) -> argparse.ArgumentParser:
    """An ArgumentParser described by ``doc``'s first paragraph; with ``out``, an ``--out`` option defaulting to
    ``bench/results/local/<out>.json``."""
    ap = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    if out:
        ap.add_argument("--out", default=str(RESULTS / f"{out}.json"), help="where the JSON result goes")
    return ap


def device():
    """The GPU when there is one, else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_name(dev) -> str:
    import torch

    return torch.cuda.get_device_name() if dev.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"


def sync(dev) -> None:
    if dev is not None and dev.type == "cuda":
        import torch

        torch.cuda.synchronize()


def seconds(fn, dev=None, repeat: int = 1) -> float:
    """The median wall-clock seconds of ``repeat`` calls of ``fn`` (each synchronised on a GPU ``dev``)."""
    out = []
    for _ in range(repeat):
        sync(dev)
        t0 = time.perf_counter()
        fn()
        sync(dev)
        out.append(time.perf_counter() - t0)
    return sorted(out)[len(out) // 2]


def per_second(step, items_per_step: int, steps: int, dev=None, warmup: int = 0) -> float:
    """Items per second over ``steps`` calls of ``step`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    return items_per_step * steps / seconds(lambda: [step() for _ in range(steps)], dev)


def ratio(label: str, a_name: str, a: float, b_name: str, b: float, unit: str = "s") -> str:
    """The one-row side-by-side result: both values and ``a/b``; printed and returned."""
    line = f"{label}: {a_name} {a:.2f} {unit}, {b_name} {b:.2f} {unit}, ratio {a_name}/{b_name} {a / b:.2f}x"
    print(line, flush=True)
    return line


def peak_mb() -> float:
    """The process's peak resident memory so far (MB): torch's allocator is invisible to tracemalloc."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save(path: str | Path, result: dict, quiet: bool = False) -> Path:
    """Write ``result`` as JSON to ``path`` (its folder made; written whole, then renamed)."""
    from synrec.atomic import write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(result, indent=2))
    if not quiet:
        print(f"wrote {path}", flush=True)
    return path
