"""Rule disef_filter: DISEF's filter, the synthetic images whose zero-shot CLIP prediction is their own class ->
indices kept (HDF5, the layout of the CLIP filter's keep-list)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import h5py
import numpy as np
import torch

from synrec.atomic import atomic_path
from synrec.disef import zero_shot_keep
from synrec.manifest import check_head, read_checked
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"disef_filter {w.dataset} {w.shots}-shot seed {w.fseed}"):
    feats, labels, parts = read_checked(sm.input.features, sm.input.model_manifest, images_store=sm.input.images)
    head = check_head(torch.load(sm.input.head, weights_only=True), sm.input.head, sm.input.model_manifest)
    keep = zero_shot_keep(feats, labels, head["class_emb"]) if sm.params.enabled else np.arange(len(labels))
    per_class = np.bincount(labels[keep], minlength=len(head["classnames"]))
    with atomic_path(sm.output[0]) as tmp, h5py.File(tmp, "w") as f:
        f["keep"] = keep
        f.attrs["images"] = parts["images"]
        f.attrs["rule"] = "zero-shot prediction == label" if sm.params.enabled else "none (filter: false)"
    print(f"kept {len(keep)} of {len(labels)} images; per class {per_class.tolist()}")
