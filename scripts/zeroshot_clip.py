"""Rule zeroshot_clip: zero-shot CLIP (the untuned head) on the real test split -> result JSON."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import torch

from synrec.atomic import write_json
from synrec.classifier_tuning import ClassifierHead, evaluate
from synrec.manifest import check_head, read_checked
from synrec.results import check_same_model, result_record
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"zeroshot_clip {w.dataset} {w.backbone}"):
    xt, yt, parts = read_checked(sm.input.test, sm.input.model_manifest, sm.input.test_manifest)
    head0 = check_head(torch.load(sm.input.head, weights_only=True), sm.input.head, sm.input.model_manifest)
    check_same_model(sm.input.test, parts, sm.input.test, parts, sm.input.head, head0["model"])
    metrics = evaluate(ClassifierHead(head0["class_emb"], head0["logit_scale"]), xt, yt)
    print(f"top-1 {metrics['acc1']:.2f}")
    write_json(sm.output[0], result_record(sm.config, w.dataset, w.backbone, "CLIP", metrics, n_train=0,
                                           seed=sm.params.seed, classnames=head0["classnames"]))
