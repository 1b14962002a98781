"""Rule frozen_bn: image-level CT (real shots or synthetic images) through the frozen CLIP ResNet, BN in train mode
or frozen, tested on the test split's images -> result JSON (one cell of Table 6)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

import torch

from synrec.atomic import write_json
from synrec.datasets import load_split
from synrec.frozen_bn import bn_layers, require_bn
from synrec.image_ct import evaluate_images, train_image_ct
from synrec.manifest import check_head, check_shots
from synrec.models import load_clip, pick_device
from synrec.results import result_record
from synrec.runlog import rule_log, throughput_settings
from synrec.seeds import name_order
from synrec.stores import open_synthetic, safety_counts

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"frozen_bn {w.dataset} {w.backbone} {w.shots}-shot seed {w.fseed} {w.tdata} {w.bn}"):
    torch.set_num_threads(max(1, sm.threads))
    ds, fcfg, tuning = sm.params.dataset, throughput_settings(sm, "features"), dict(sm.params.tuning)
    loss = tuning.pop("loss")
    device = pick_device(sm.params.device)
    model, preprocess, _ = load_clip(sm.params.model, device)
    require_bn(model.visual)
    head0 = check_head(torch.load(sm.input.head, weights_only=True), sm.input.head, sm.input.model)
    if w.tdata == "real":
        source = load_split(ds, sm.params.data_root, sm.params.train_split)
        indices = check_shots(json.loads(Path(sm.input.split).read_text()), sm.input.split, sm.input.train_manifest,
                              source.fingerprint())["train"]
    else:
        source, indices = open_synthetic(sm.input.syn, sm.input.get("keep"))
        indices = indices[name_order(source.labels[indices], ds["classnames"])]  # train in class-name order
    print(f"{len(indices)} {w.tdata} images, {len(bn_layers(model.visual))} BatchNorm layers, {w.bn}, loss {loss}")
    head, history = train_image_ct(model, preprocess, source, indices, head0["class_emb"], tuning, loss, sm.params.sce,
                                   freeze_bn=w.bn == "bn-frozen", seed=sm.params.seed, device=device,
                                   logit_scale=head0["logit_scale"], num_workers=fcfg["num_workers"])
    test = load_split(ds, sm.params.data_root, ds["test_split"])
    metrics = evaluate_images(model, preprocess, test, head, device, fcfg["batch_size"], fcfg["num_workers"])
    print(f"{w.tdata} {w.bn}: top-1 {metrics['acc1']:.2f}")
    write_json(sm.output[0], result_record(
        sm.config, w.dataset, w.backbone, f"{w.tdata}-{w.bn}", metrics, n_train=len(indices), seed=sm.params.seed,
        settings={**tuning, "loss": loss, "synthetic": sm.params.synthetic if w.tdata == "syn" else None},
        history=history, extra={"study": "frozen-bn", "shots": int(w.shots), "split_seed": int(w.fseed),
                                         **({"synthetic": safety_counts(sm.input.syn)} if w.tdata == "syn" else {})},
        classnames=ds["classnames"]))
