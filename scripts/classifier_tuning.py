"""Rule classifier_tuning: CT on synthetic features (optionally CLIP-filtered), CE or SCE -> result JSON."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import h5py
import torch

from synrec.atomic import write_json
from synrec.classifier_tuning import evaluate, train_ct
from synrec.errors import SynrecError
from synrec.manifest import check_head, read_checked
from synrec.models import pick_device
from synrec.results import check_same_model, result_record
from synrec.runlog import rule_log
from synrec.seeds import name_order
from synrec.stores import safety_counts

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"classifier_tuning {w.dataset} {w.backbone} {w.data}-{w.loss}"):
    x, y, train_parts = read_checked(sm.input.train, sm.input.model_manifest, images_store=sm.input.images)
    xt, yt, test_parts = read_checked(sm.input.test, sm.input.model_manifest, sm.input.test_manifest)
    head0 = check_head(torch.load(sm.input.head, weights_only=True), sm.input.head, sm.input.model_manifest)
    check_same_model(sm.input.train, train_parts, sm.input.test, test_parts, sm.input.head, head0["model"])
    if "keep" in sm.input.keys():
        with h5py.File(sm.input.keep, "r") as f:
            if f.attrs["images"] != train_parts["images"]:
                raise SynrecError(f"{sm.input.keep} filters other images than {sm.input.train}; rerun clip_filter")
            keep = f["keep"][:]
        x, y = x[keep], y[keep]
    order = name_order(y, head0["classnames"])  # the synthetic store is in label order; train in name order
    x, y = x[order], y[order]
    head, history = train_ct(x, y, head0["class_emb"], sm.params.ct, w.loss, sm.params.sce, sm.params.seed,
                             pick_device(sm.params.device), logit_scale=head0["logit_scale"])
    metrics = evaluate(head, xt, yt)
    print(f"top-1 {metrics['acc1']:.2f} on {metrics['n']} test images after {len(history)} epochs")
    write_json(sm.output[0], result_record(sm.config, w.dataset, w.backbone, f"{w.data}-{w.loss}", metrics,
                                           n_train=len(y), seed=sm.params.seed,
                                           settings={"ct": sm.params.ct, "sce": sm.params.sce}, history=history,
                                           classnames=head0["classnames"],
                                           extra={"synthetic": safety_counts(sm.input.images)}))
