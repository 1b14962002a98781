"""Rule partial_tuning: CT on synthetic images with the CLIP ResNet unfrozen down to one stage (BN frozen), tested
on the real test images -> result JSON with the share of parameters tuned (one column of Table 3)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import torch

from synrec.atomic import write_json
from synrec.datasets import load_split
from synrec.image_ct import evaluate_images, train_image_ct
from synrec.models import load_clip, pick_device
from synrec.partial_tuning import share_tuned, tuned_parameters
from synrec.results import result_record
from synrec.runlog import rule_log, throughput_settings
from synrec.seeds import name_order
from synrec.stores import open_synthetic, safety_counts

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"partial_tuning {w.dataset} {w.backbone} down to {w.level}"):
    torch.set_num_threads(max(1, sm.threads))
    ds, fcfg = sm.params.dataset, throughput_settings(sm, "features")
    device = pick_device(sm.params.device)
    model, preprocess, _ = load_clip(sm.params.model, device)
    head0 = torch.load(sm.input.head, weights_only=True)
    source, indices = open_synthetic(sm.input.syn, sm.input.get("keep"))
    indices = indices[name_order(source.labels[indices], ds["classnames"])]  # train in class-name order
    tune = tuned_parameters(model.visual, w.level)
    n_tuned, share = share_tuned(model.visual, head0["class_emb"].numel() + head0["class_emb"].shape[0], w.level)
    print(f"{len(indices)} {sm.params.data} images; tuning {n_tuned:,} parameters ({share:.2f}% of encoder + head)")
    head, history = train_image_ct(model, preprocess, source, indices, head0["class_emb"], sm.params.tuning,
                                   sm.params.loss, sm.params.sce, freeze_bn=True, tune=tune, seed=sm.params.seed,
                                   device=device, logit_scale=head0["logit_scale"], num_workers=fcfg["num_workers"])
    test = load_split(ds, sm.params.data_root, ds["test_split"])
    metrics = evaluate_images(model, preprocess, test, head, device, fcfg["batch_size"], fcfg["num_workers"])
    print(f"down to {w.level}: top-1 {metrics['acc1']:.2f}")
    write_json(sm.output[0], result_record(
        sm.config, w.dataset, w.backbone, f"tune-{w.level}", metrics, n_train=len(indices), seed=sm.params.seed,
        settings={**sm.params.tuning, "loss": sm.params.loss, "data": sm.params.data}, history=history,
        extra={"study": "partial-tuning", "level": w.level, "params_tuned": n_tuned, "share_tuned": share,
               "synthetic": safety_counts(sm.input.syn)},
        classnames=ds["classnames"]))
