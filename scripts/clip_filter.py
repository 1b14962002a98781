"""Rule clip_filter: confidence of every synthetic image under zero-shot CLIP -> indices kept (HDF5)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import h5py
import torch

from synrec.atomic import atomic_path
from synrec.clip_filter import clip_confidence, clip_filter
from synrec.manifest import check_head, read_checked
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
with rule_log(sm.log, f"clip_filter {sm.wildcards.dataset} {sm.wildcards.strategy}"):
    cfg = sm.params.clip_filter
    feats, labels, parts = read_checked(sm.input.features, sm.input.model_manifest, images_store=sm.input.images)
    head = check_head(torch.load(sm.input.head, weights_only=True), sm.input.head, sm.input.model_manifest)
    conf = clip_confidence(feats, labels, head["class_emb"], scale=head["logit_scale"])
    keep = clip_filter(conf, labels, head["classnames"], cfg["threshold"], cfg["budget"], sm.params.seed)
    with atomic_path(sm.output[0]) as tmp, h5py.File(tmp, "w") as f:
        f["keep"], f["confidence"] = keep, conf
        f.attrs["images"] = parts["images"]
    print(f"kept {len(keep)} of {len(labels)} images")
