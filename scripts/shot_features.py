"""Rule shot_features: CLIP features of augmented views of one (K, seed)'s shots -> HDF5 (Tip-Adapter's cache)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

from synrec.datasets import load_split
from synrec.features import encode_views, train_augmentation
from synrec.manifest import check_shots
from synrec.models import load_clip, pick_device, pick_dtype
from synrec.runlog import rule_log, throughput_settings
from synrec.stores import write_views

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"shot_features {w.dataset} {w.backbone} {w.shots}-shot seed {w.fseed}"):
    train = load_split(sm.params.dataset, sm.params.data_root, sm.params.train_split)
    split = check_shots(json.loads(Path(sm.input.split).read_text()), sm.input.split, sm.input.train_manifest,
                        train.fingerprint())
    device = pick_device(sm.params.device)
    model, preprocess, _ = load_clip(sm.params.model, device)
    views = encode_views(model, train_augmentation(preprocess), train, split["train"], sm.params.passes,
                         sm.params.seed, device, throughput_settings(sm, "features")["batch_size"],
                         pick_dtype(sm.params.model, device))
    write_views(sm.output[0], views, train.labels[split["train"]], split["train"], train.fingerprint())
    print(f"{views.shape[0]} augmented passes x {views.shape[1]} shots -> {views.shape}")
