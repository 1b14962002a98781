"""Rule pretrain: supervised or MoCo v2 pre-training of a timm backbone on the first N images per class of a label
space's synthetic shards, on every GPU the job has (DDP) -> backbone checkpoint (classifier removed)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from pathlib import Path

import torch

from synrec.config import config_hash, stable_hash
from synrec.distributed import launch, n_processes
from synrec.pretrain import run
from synrec.pretrain_data import ShardedImages
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"pretrain {w.ptmethod} {w.ptmodel} on {w.space} {w.amount} ({w.init})"):
    torch.set_num_threads(max(1, sm.threads))
    lists = [(shards, offset) for _, offset, shards in sm.params.lists]
    fingerprint = ShardedImages(lists, sm.params.per_class).fingerprint()  # also checks every class has enough
    job = {"method": w.ptmethod, "model": w.ptmodel, "kwargs": sm.params.kwargs, "init": sm.params.init,
           "n_classes": sm.params.n_classes, "cfg": sm.params.settings, "seed": sm.params.seed, "lists": lists,
           "per_class": sm.params.per_class, "num_workers": sm.params.num_workers,
           "checkpoint_every": sm.params.checkpoint_every, "out": sm.output[0],
           "meta": {"method": w.ptmethod, "space": w.space, "amount": w.amount, "init": sm.params.init,
                    "settings": sm.params.settings, "seed": sm.params.seed, "config_hash": config_hash(sm.config)}}
    # keyed on everything that changes the run, so a changed config never resumes a stale checkpoint
    key = stable_hash({k: job[k] for k in ("method", "model", "kwargs", "init", "cfg", "seed", "per_class")}
                      | {"images": fingerprint})
    out = Path(sm.output[0])
    ckpt = out.with_name(f"{out.stem}-{key}.ckpt")  # beside the output: a rerun after a kill resumes from it
    job["checkpoint"] = str(ckpt)
    launcher = sm.resources.get("mpi")  # set in the profile for multi-node jobs: one srun step over all tasks
    nprocs = n_processes(sm.params.device)
    print(f"{'one process per SLURM task via ' + launcher if launcher else f'{nprocs} data-parallel process(es)'}; "
          f"checkpoint {ckpt}")
    launch(run, (job,), nprocs, log=sm.log[0] if sm.log else None, launcher=launcher,
           job_file=str(ckpt.with_suffix(".job.pkl")), device=sm.params.device)
    ckpt.unlink(missing_ok=True)  # done: nothing left to resume
