"""Training checkpoints that survive a kill: written to a temporary name and renamed, so the file on disk is always
the last complete one. A requeued or rerun SLURM job resumes from it."""

from __future__ import annotations

from pathlib import Path

import torch

from .atomic import atomic_path


def save_checkpoint(path: str | Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path | None) -> dict | None:
    """The checkpoint at ``path``, or None if there is none yet."""
    if path is None or not Path(path).is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)
