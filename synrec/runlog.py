"""Per-rule logging for the workflow's scripts: everything a script prints goes to its Snakemake log file, and a
:class:`SynrecError` ends the job with its one-line message in the log and on the terminal (exit status 1)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import sys
import time
import traceback
from pathlib import Path

from .errors import SynrecError

#: OS errors that are the machine's, not a bug's: a full disk or quota, a read-only or unwritable place. They end a
#: job with one line naming the file, like a SynrecError (the partial outputs are Snakemake's to remove).
_ENVIRONMENT_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def _hdf5_errno(message: str) -> tuple[int, str] | None:
    """(errno, file name) of an HDF5 write error ("file write failed: ..., filename = '...', ..., errno = 28, ...")."""
    number = re.search(r"errno = (\d+)", message)
    name = re.search(r"filename = '([^']*)'", message)
    return (int(number.group(1)), name.group(1) if name else "an HDF5 file") if number else None


def _free(filename: str) -> str:
    folder = Path(filename).absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return f"{shutil.disk_usage(folder).free / 2**30:.2f} GiB free on {folder}"
    except OSError:
        return "free space unknown"


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` says the Hugging Face hub is off (as huggingface_hub reads it)."""
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")


@contextlib.contextmanager
def rule_log(log_files, name: str):
    """Redirect stdout/stderr (tqdm bars included) into the rule's log for the duration of the block."""
    log_path = Path(log_files[0]) if log_files else None
    real_stderr = sys.stderr
    fh = None
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(log_path, "w", buffering=1)  # noqa: SIM115 (closed in the finally below)
        sys.stdout = sys.stderr = fh
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        force=True)
    t0 = time.time()
    torch = sys.modules.get("torch")  # the kernels' instruction set, where the job computes with torch
    isa = f" (CPU kernels: {torch.backends.cpu.get_cpu_capability()})" if torch is not None else ""
    if not hub_offline():  # the workflow sets it for its jobs
        isa += " (Hugging Face hub online: this job may download)"
    print(f"[synrec] {name} started{isa}", flush=True)

    def one_line(msg: str):
        print(f"error: {msg}", flush=True)
        if fh:
            print(f"synrec error in {name}: {msg}", file=real_stderr, flush=True)
        return SystemExit(1)

    def with_traceback():
        traceback.print_exc()
        if fh:
            print(f"synrec: {name} failed, traceback in {log_path}", file=real_stderr, flush=True)

    def out_of_space(filename: str, strerror: str):
        """A full disk or quota: one line with the free space, then out at once (HDF5 closing a file it could not
        write at interpreter exit has crashed a job with SIGSEGV after its error line)."""
        one_line(f"{filename}: {strerror} ({_free(filename)})")
        if fh:
            fh.close()
        os._exit(1)

    try:
        yield
        print(f"[synrec] {name} done in {time.time() - t0:.1f}s", flush=True)
    except SynrecError as exc:
        raise one_line(str(exc)) from None
    except OSError as exc:
        if exc.errno not in _ENVIRONMENT_ERRORS:
            with_traceback()
            raise
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            out_of_space(exc.filename or "a file", exc.strerror)
        raise one_line(f"{exc.filename or 'a file'}: {exc.strerror}") from None
    except RuntimeError as exc:  # HDF5's write errors come as RuntimeError, the errno inside the message
        found = _hdf5_errno(str(exc))
        if found and found[0] in (errno.ENOSPC, errno.EDQUOT):
            out_of_space(found[1], os.strerror(found[0]))
        with_traceback()
        raise
    except KeyboardInterrupt:  # Ctrl-C: Snakemake passes it to every job; one line each, no traceback
        print("interrupted", flush=True)
        if fh:
            print(f"synrec: {name} interrupted", file=real_stderr, flush=True)
        raise SystemExit(130) from None
    except BaseException:
        with_traceback()
        raise
    finally:
        if fh:
            sys.stdout, sys.stderr = sys.__stdout__, real_stderr
            fh.close()


#: The settings that change how fast a job runs, never what it writes, per config section.
THROUGHPUT_KEYS = {
    "generation": ("batch_size", "classes_per_job", "background_encode"),
    "features": ("batch_size", "num_workers"),
    "table4": ("num_workers", "checkpoint_every"),
}


def throughput_settings(smk, section: str, generator: str | None = None) -> dict:
    """Batch sizes, data-loader workers and job splits of ``config[section]``, read from the config on purpose.

    Everything else a script needs comes as a rule param, so the params say exactly what changes an output. These
    few do not (every image has its own seed; features and training do not depend on the batch or the loader), and
    as params they would trip Snakemake's params rerun trigger: tuning a batch size to a GPU would recompute every
    store. This is the only place a script reads ``snakemake.config`` for a setting.
    """
    if section not in THROUGHPUT_KEYS:
        raise KeyError(f"throughput_settings: '{section}' has no throughput-only keys ({sorted(THROUGHPUT_KEYS)})")
    settings = smk.config[section]
    if generator:  # a named generator's own batch size or job split
        from .config import generation_settings

        settings = generation_settings(smk.config, f"@{generator}")
    return {k: settings[k] for k in THROUGHPUT_KEYS[section] if k in settings}
