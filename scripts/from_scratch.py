"""Rule from_scratch: a timm model from random weights on N synthetic images per class, or on K real images per
class, tested on the real test split -> result JSON (one cell of Table 4)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from pathlib import Path

import torch

from synrec.atomic import write_json
from synrec.config import stable_hash
from synrec.datasets import load_split
from synrec.from_scratch import build_model, evaluate_model, per_class_subset, train_from_scratch
from synrec.models import pick_device
from synrec.results import result_record
from synrec.runlog import rule_log, throughput_settings
from synrec.seeds import name_order
from synrec.stores import open_synthetic, safety_counts

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"from_scratch {w.dataset} {w.tsource}"):
    torch.set_num_threads(max(1, sm.threads))
    ds, cfg, t4 = sm.params.dataset, sm.params.training, throughput_settings(sm, "table4")
    n_classes = len(ds["classnames"])
    if w.tsource == "syn":
        source, pool = open_synthetic(sm.input.syn, sm.input.get("keep"))
        per_class = cfg["syn_per_class"]
        indices = pool[per_class_subset(source.labels[pool], per_class, sm.params.seed, ds["classnames"])]
        indices = indices[name_order(source.labels[indices], ds["classnames"])]  # train in class-name order
    else:
        source = load_split(ds, sm.params.data_root, sm.params.train_split)
        per_class = int(w.tsource.removeprefix("real-"))
        indices = per_class_subset(source.labels, per_class, sm.params.seed, ds["classnames"])
    print(f"{w.tsource}: {len(indices)} images ({per_class} per class asked), model {cfg['model']} from scratch")
    device = pick_device(sm.params.device)
    model = build_model(cfg["model"], n_classes, sm.params.seed)
    # keyed on everything that changes the run, so a changed config never resumes a stale checkpoint
    key = stable_hash({"cfg": cfg, "seed": sm.params.seed, "images": source.fingerprint(), "indices": indices.tolist()})
    ckpt = Path(sm.params.work_dir) / w.dataset / "scratch" / f"{w.tsource}-{key}.ckpt"
    history = train_from_scratch(model, source, indices, cfg, sm.params.seed, device, t4["num_workers"],
                                 checkpoint=ckpt, checkpoint_every=t4["checkpoint_every"])
    test = load_split(ds, sm.params.data_root, ds["test_split"])
    metrics = evaluate_model(model, test, cfg["image_size"], device, cfg["batch_size"], t4["num_workers"])
    print(f"{w.tsource}: top-1 {metrics['acc1']:.2f}")
    write_json(sm.output[0], result_record(
        sm.config, w.dataset, cfg["model"], w.tsource, metrics, n_train=len(indices), seed=sm.params.seed,
        settings=cfg, history=history, extra={"study": "from-scratch", "per_class": per_class,
                                                         **({"synthetic": safety_counts(sm.input.syn)}
                                                            if w.tsource == "syn" else {})},
        classnames=ds["classnames"]))
    ckpt.unlink(missing_ok=True)  # done: nothing left to resume
