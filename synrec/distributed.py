"""Data-parallel processes for one training job: the GPUs (and nodes) SLURM gave it.

Three ways a job gets its processes, all ending in ``torch.distributed.init_process_group``:

* **one node, several GPUs** (the default for a pre-training rule with ``gpu: N``): :func:`launch` starts N local
  processes itself (``torch.multiprocessing.spawn``), rank i on ``cuda:i``;
* **several nodes**: the job gets one task per GPU (the profile gives the rule ``mpi: srun``, ``nodes`` and
  ``tasks_per_node``; the SLURM plugin then runs the rule once, not under ``srun -n1``) and :func:`launch` with
  ``launcher="srun"`` starts the training as one ``srun`` step over all those tasks (the function and its
  arguments travel in a pickle file). Each task's rank, world size and master address come from SLURM's variables
  through submitit's ``TorchDistributedEnvironment`` (``SLURM_PROCID``, ``SLURM_NTASKS``, the first host of
  ``SLURM_JOB_NODELIST``);
* **torchrun**: ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` are already set and used as they are.

NCCL on GPUs, gloo on CPU (the tests run two gloo processes). The config's ``device`` decides between them: ``auto``
takes the GPUs when there are any, ``cpu`` keeps a job on the CPU (one process) on a host that has GPUs too.
Nothing here schedules jobs: SLURM does.
"""

from __future__ import annotations

import os
import pickle
import shlex
import socket
import subprocess
import sys

import torch
import torch.distributed as dist


def rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    return rank_and_world()[0] == 0


def barrier() -> None:
    if rank_and_world()[1] > 1:
        dist.barrier()


_CHOSEN: torch.device | None = None  # this process's device, chosen by launch()


def _wants_cuda(spec: str) -> bool:
    """Whether the config's ``device`` (auto, cpu, cuda, cuda:i) puts the job on GPUs."""
    return spec.startswith("cuda") or (spec == "auto" and torch.cuda.is_available())


def n_processes(device: str = "auto") -> int:
    """Data-parallel processes for a job: every GPU it was given (SLURM sets CUDA_VISIBLE_DEVICES), else one; one
    when ``device`` keeps it on the CPU or names one GPU (``cuda:i``)."""
    every_gpu = _wants_cuda(device) and not device.startswith("cuda:") and torch.cuda.is_available()
    return max(1, torch.cuda.device_count()) if every_gpu else 1


def _from_environment() -> tuple[int, int, int] | None:
    """(rank, world size, local rank) from torchrun's variables, or from SLURM's when the job runs several tasks."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    if int(os.environ.get("SLURM_NTASKS", "1")) > 1 and "SLURM_PROCID" in os.environ:
        from submitit.helpers import TorchDistributedEnvironment

        # submitit recognises a SLURM job by this variable, which its own launcher sets and plain srun does not
        os.environ.setdefault("SUBMITIT_EXECUTOR", "slurm")
        # SLURM's values win over a MASTER_ADDR/PORT inherited from whatever launched this step
        env = TorchDistributedEnvironment().export(overwrite=True)  # MASTER_ADDR/PORT, RANK, WORLD_SIZE, LOCAL_RANK
        return env.rank, env.world_size, env.local_rank
    return None


def _select(spec: str, local_rank: int) -> torch.device:
    """Choose (and remember) this process's device: its local GPU under ``auto``/``cuda``, else the CPU."""
    global _CHOSEN
    if _wants_cuda(spec):
        if spec.startswith("cuda:"):  # the config names one GPU
            index = torch.device(spec).index
        else:  # a task that sees only its own GPU (SLURM's per-task GPU binding) uses cuda:0
            index = local_rank if torch.cuda.device_count() > local_rank else 0
        _CHOSEN = torch.device("cuda", index)
        torch.cuda.set_device(_CHOSEN)
    else:
        _CHOSEN = torch.device("cpu")
    return _CHOSEN


def init(rank: int, world: int, local_rank: int, device_spec: str = "auto") -> torch.device:
    """Join the process group (when ``world`` > 1) and return this process's device."""
    device = _select(device_spec, local_rank)
    cuda = device.type == "cuda"
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world,
                                device_id=device if cuda else None)
    return device


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(rank: int, world: int, local_rank: int, fn, args, device_spec: str = "auto") -> None:
    init(rank, world, local_rank, device_spec)
    try:
        fn(*args)
    finally:
        cleanup()


def _spawned(index: int, world: int, fn, args, log, device_spec: str = "auto") -> None:
    if log:  # a spawned process starts with the terminal's stdout: send it to the rule's log like the parent's
        import sys

        sys.stdout = sys.stderr = open(log, "a", buffering=1)  # noqa: SIM115 (the rank logs until exit)
    if _wants_cuda(device_spec) and index >= torch.cuda.device_count():  # NCCL refuses two ranks on one GPU
        from .errors import SynrecError

        raise SynrecError(f"{world} local data-parallel processes asked for, but this job sees "
                          f"{torch.cuda.device_count()} GPU(s): give the rule as many GPUs (resources gpu)")
    _run(index, world, index, fn, args, device_spec)


def device() -> torch.device:
    """This process's device, as :func:`launch` chose it; outside a launch, its local GPU or the CPU."""
    if _CHOSEN is not None:
        return _CHOSEN
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")


def _alone(fn, args, device_spec: str, local_rank: int = 0) -> None:
    """``fn(*args)`` in this process alone, on the device ``device_spec`` gives it."""
    global _CHOSEN
    before = _CHOSEN
    _select(device_spec, local_rank)
    try:
        fn(*args)
    finally:
        _CHOSEN = before


def launch(fn, args: tuple = (), nprocs: int = 1, log: str | None = None, launcher: str | None = None,
           job_file: str | None = None, device: str = "auto") -> None:
    """Run ``fn(*args)`` in every process of the job. Under torchrun or a multi-task srun, this process is one rank
    of many; otherwise ``nprocs`` local processes are started (nprocs = 1: this process alone, no process group).
    ``fn`` must be a module-level function (it is pickled into the spawned processes); spawned processes append
    their output to ``log``. ``device`` is the config's: ``cpu`` runs every process on the CPU (gloo), even on a
    host that has GPUs."""
    found = _from_environment()
    if launcher and found is None:  # start the ranks as the tasks of one step (srun) over the whole allocation
        if job_file is None:
            raise ValueError("launch with a launcher needs job_file, a path on a filesystem every node sees")
        os.makedirs(os.path.dirname(os.path.abspath(job_file)), exist_ok=True)
        with open(job_file, "wb") as f:
            pickle.dump((fn, args, device), f)
        try:
            subprocess.run([*shlex.split(launcher), sys.executable, "-m", "synrec.distributed", job_file], check=True)
        finally:
            os.unlink(job_file)
        return
    if found is not None:
        rank, world, local = found
        _run(rank, world, local, fn, args, device) if world > 1 else _alone(fn, args, device, local)
        return
    if nprocs <= 1:
        _alone(fn, args, device)
        return
    saved = {k: os.environ.get(k) for k in ("MASTER_ADDR", "MASTER_PORT")}
    try:
        for attempt in range(3):  # a free port can be taken between choosing it and binding it: choose again
            os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
            try:
                torch.multiprocessing.spawn(_spawned, args=(nprocs, fn, args, log, device), nprocs=nprocs,
                                            join=True)
                break
            except torch.multiprocessing.ProcessRaisedException as exc:
                if attempt == 2 or "address already in use" not in str(exc).lower():
                    raise
    finally:  # leave the caller's environment as it was
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


if __name__ == "__main__":  # one task of a launcher step: python -m synrec.distributed <job file>
    with open(sys.argv[1], "rb") as f:
        _fn, _args, _device = pickle.load(f)
    launch(_fn, _args, device=_device)
