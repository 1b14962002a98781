"""Run under `srun --ntasks=N`: every task joins one data-parallel training through synrec.distributed.launch
(rank, world size and master address from SLURM's variables via submitit), trains a BN-free linear classifier on
the demo shapes, and saves its weights as <out>-<rank>.pt. tests/test_slurm.py compares them with one process."""
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1])]

from test_pretraining import _ddp_job  # noqa: E402

from synrec.distributed import launch  # noqa: E402

CFG = {"epochs": 2, "batch_size": 8, "optimizer": "momentum", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0,
       "warmup_epochs": 0}

if __name__ == "__main__":
    launch(_ddp_job, (sys.argv[1], CFG), nprocs=1)
