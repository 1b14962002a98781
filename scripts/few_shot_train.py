"""Rule few_shot_train: one few-shot method for one (dataset, K, seed) on cached features -> result JSON."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

import h5py
import torch

from synrec.atomic import write_json
from synrec.few_shot_methods import run_method
from synrec.manifest import check_head, check_shots, read_checked
from synrec.models import pick_device
from synrec.results import result_record
from synrec.runlog import rule_log
from synrec.seeds import name_order
from synrec.stores import read_views, safety_counts

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"few_shot_train {w.dataset} {w.backbone} {w.shots}-shot seed {w.fseed} {w.method}"):
    model = sm.input.model_manifest
    split = check_shots(json.loads(Path(sm.input.split).read_text()), sm.input.split, sm.input.train_manifest)
    tx, ty, _ = read_checked(sm.input.train, model, sm.input.train_manifest)
    test_x, test_y, _ = read_checked(sm.input.test, model, sm.input.test_manifest)
    head = check_head(torch.load(sm.input.head, weights_only=True), sm.input.head, model)
    vx, vy = read_checked(sm.input.val, model, sm.input.val_manifest)[:2] if "val" in sm.input.keys() else (tx, ty)
    data = {"shot_x": tx[split["train"]], "shot_y": ty[split["train"]], "val_x": vx[split["val"]],
            "val_y": vy[split["val"]], "test_x": test_x, "test_y": test_y, "class_emb": head["class_emb"],
            "logit_scale": head["logit_scale"]}
    data["dataset"] = w.dataset
    if "views" in sm.input.keys():
        data["shot_views"] = read_views(sm.input.views, split["train"])
    if "syn" in sm.input.keys():
        sx, sy, _ = read_checked(sm.input.syn, model, images_store=sm.input.images)
        keep_file = sm.input.get("rf") or sm.input.get("keep")
        if keep_file:
            with h5py.File(keep_file, "r") as f:
                keep = f["keep"][:]
            sx, sy = sx[keep], sy[keep]
        order = name_order(sy, head["classnames"])  # the synthetic store is in label order; train in name order
        data["syn_x"], data["syn_y"] = sx[order], sy[order]
    out = run_method(w.method, data, sm.params.few_shot, sm.params.sce, sm.params.seed, pick_device(sm.params.device))
    print(f"{w.method}: top-1 {out['metrics']['acc1']:.2f}")
    details = out["details"]
    write_json(sm.output[0], result_record(
        sm.config, w.dataset, w.backbone, w.method, out["metrics"], n_train=len(split["train"]), seed=sm.params.seed,
        settings={k: v for k, v in details.items() if k != "history"}, history=details.get("history"),
        extra={"study": "few-shot", "shots": int(w.shots), "split_seed": int(w.fseed),
               **({"synthetic": safety_counts(sm.input.images)} if "images" in sm.input.keys() else {})},
        classnames=head["classnames"]))
