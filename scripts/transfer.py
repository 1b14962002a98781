"""Rules transfer_cifar / transfer_voc: fine-tune a pre-trained (or IN-1k, or random) backbone on CIFAR-100 or PASCAL
VOC on every GPU the job has -> result JSON (one cell of Tables 8-11)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from pathlib import Path

import torch

from synrec.config import stable_hash
from synrec.distributed import launch, n_processes
from synrec.results import result_record
from synrec.runlog import rule_log
from synrec.transfer import run_cifar, run_voc

sm = snakemake  # noqa: F821
w = sm.wildcards
task = "cifar" if sm.rule == "transfer_cifar" else "voc"
with rule_log(sm.log, f"{sm.rule} {w.ptmodel} {w.ptmethod} {w.space} {w.amount} {w.init}"):
    torch.set_num_threads(max(1, sm.threads))
    backbone = sm.input.get("backbone")
    start = backbone or sm.params.init or "random weights"
    print(f"fine-tuning {w.ptmodel} from {start}")
    dataset = sm.params.dataset["name"] if task == "cifar" else "voc"
    record = result_record(sm.config, dataset, w.ptmodel, f"{w.ptmethod}/{w.space}/{w.amount}/{w.init}", {}, 0,
                           sm.params.seed, settings=sm.params.settings,
                           extra={"study": "pretraining-transfer", "task": task, "method": w.ptmethod,
                                  "space": w.space, "amount": w.amount, "init": w.init, "start": start})
    job = {"model": w.ptmodel, "kwargs": sm.params.kwargs, "backbone": backbone, "init": sm.params.init,
           "cfg": sm.params.settings, "seed": sm.params.seed, "num_workers": sm.params.num_workers,
           "checkpoint_every": sm.params.checkpoint_every, "record": record, "out": sm.output[0]}
    if task == "cifar":
        job.update(dataset=sm.params.dataset, data_root=sm.params.data_root, train_split=sm.params.train_split)
    else:
        job.update(root=sm.input.data, train_sets=sm.params.train_sets, test_set=sm.params.test_set)
    weights_id = stable_hash(Path(backbone).stat().st_mtime_ns) if backbone else str(sm.params.init)
    key = stable_hash({k: v for k, v in job.items() if k not in ("record", "out")} | {"weights": weights_id})
    cell = f"{task}-{w.ptmodel}-{w.ptmethod}-{w.space}-{w.amount}-{w.init}"
    ckpt = Path(sm.params.work_dir) / "transfer" / "checkpoints" / f"{cell}-{key}.ckpt"
    job["checkpoint"] = str(ckpt)
    launch(run_cifar if task == "cifar" else run_voc, (job,), n_processes(sm.params.device),
           log=sm.log[0] if sm.log else None, launcher=sm.resources.get("mpi"),
           job_file=str(ckpt.with_suffix(".job.pkl")), device=sm.params.device)
    ckpt.unlink(missing_ok=True)
