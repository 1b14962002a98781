"""Per-rule logging for the workflow's scripts: everything a script prints goes to its Snakemake log file, and a
:class:`SynrecError` ends the job with its one-line message in the log and on the terminal (exit status 1)."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import traceback
from pathlib import Path

from .errors import SynrecError


@contextlib.contextmanager
def rule_log(log_files, name: str):
    """Redirect stdout/stderr (tqdm bars included) into the rule's log for the duration of the block."""
    log_path = Path(log_files[0]) if log_files else None
    real_stderr = sys.stderr
    fh = None
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(log_path, "w", buffering=1)
        sys.stdout = sys.stderr = fh
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        force=True)
    t0 = time.time()
    print(f"[synrec] {name} started", flush=True)
    try:
        yield
        print(f"[synrec] {name} done in {time.time() - t0:.1f}s", flush=True)
    except SynrecError as exc:
        print(f"error: {exc}", flush=True)
        if fh:
            print(f"synrec error in {name}: {exc}", file=real_stderr, flush=True)
        raise SystemExit(1) from None
    except BaseException:
        traceback.print_exc()
        if fh:
            print(f"synrec: {name} failed, traceback in {log_path}", file=real_stderr, flush=True)
        raise
    finally:
        if fh:
            sys.stdout, sys.stderr = sys.__stdout__, real_stderr
            fh.close()
