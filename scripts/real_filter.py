"""Rule real_filter: LE+CF synthetic images kept after real filtering against one (K, seed) set of shots."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

import h5py

from synrec.atomic import atomic_path
from synrec.manifest import check_shots, read_checked
from synrec.real_filter import real_filter
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"real_filter {w.dataset} {w.shots}-shot seed {w.fseed}"):
    sx, sy, parts = read_checked(sm.input.syn, sm.input.model_manifest, images_store=sm.input.images)
    with h5py.File(sm.input.keep, "r") as f:
        cf_keep = f["keep"][:]
    tx, ty, _ = read_checked(sm.input.train, sm.input.model_manifest, sm.input.train_manifest)
    shots = check_shots(json.loads(Path(sm.input.split).read_text()), sm.input.split, sm.input.train_manifest)["train"]
    n_classes = int(max(sy.max(), ty.max())) + 1
    kept = cf_keep[real_filter(sx[cf_keep], sy[cf_keep], tx[shots], ty[shots], n_classes, sm.params.margin)]
    with atomic_path(sm.output[0]) as tmp, h5py.File(tmp, "w") as f:
        f["keep"] = kept
        f.attrs["images"] = parts["images"]
    print(f"real filtering kept {len(kept)} of {len(cf_keep)} CLIP-filtered images")
