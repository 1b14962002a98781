"""Write-then-rename helpers: a crashed or killed job never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` only if the block succeeds.

    The temporary name keeps the final suffix (``x.h5`` -> ``x.tmp-<pid>.h5``) so libraries that dispatch on
    the extension still work. On any exception the temporary file is removed and the exception re-raised.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder of ``path`` (not yet created); it replaces ``path`` only if the block
    succeeds, and is removed on any exception."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | os.PathLike, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def check_writable(folders: dict) -> None:
    """Before a run: each ``{config key: folder}`` can take a new file (the folder, or its nearest existing parent
    when it is not made yet), tried by creating and removing one, so that a read-only mount or a folder without
    write permission is one line naming the key, not a traceback from inside Snakemake."""
    import tempfile

    from .errors import SynrecError

    for key, folder in folders.items():
        probe = Path(folder).absolute()
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        try:
            fd, name = tempfile.mkstemp(prefix=".synrec-write-check-", dir=probe)
            os.close(fd)
            os.unlink(name)
        except OSError as exc:
            raise SynrecError(f"key '{key}': {folder} is not writable ({probe}: {exc.strerror}); give a folder this "
                              "user can write to") from None
