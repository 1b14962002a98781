"""Rule features: CLIP image features of the real test split or a synthetic image store -> HDF5 feature store."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import torch

from synrec.datasets import dataset_folder, load_split
from synrec.features import REAL_SOURCES, downsized, encode_images, feature_key
from synrec.manifest import check_split_unchanged, check_unchanged, model_manifest, read
from synrec.models import load_clip, pick_device, pick_dtype
from synrec.runlog import rule_log, throughput_settings
from synrec.stores import ImageStore, write_features

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"features {w.dataset} {w.backbone} {w.source}"):
    torch.set_num_threads(max(1, sm.threads))
    ds, fcfg = sm.params.dataset, throughput_settings(sm, "features")
    model_id = check_unchanged(sm.input.model, model_manifest(sm.params.model, read(sm.input.model))["identity"])
    if w.source in REAL_SOURCES:
        source = load_split(ds, sm.params.data_root, sm.params.split)
    else:
        source = ImageStore(sm.input.images)
    device = pick_device(sm.params.device)
    model, preprocess, _ = load_clip(sm.params.model, device)
    if w.source not in REAL_SOURCES:  # synthetic images at the target set's resolution, where its YAML asks
        preprocess = downsized(preprocess, ds.get("synthetic_resize"))
    dtype = pick_dtype(sm.params.model, device)
    key, parts = feature_key(model_id, preprocess, source.fingerprint(), dtype)
    feats = encode_images(model, preprocess, source, device, fcfg["batch_size"], fcfg["num_workers"], dtype,
                          desc=f"{w.dataset}/{w.source}")
    if w.source in REAL_SOURCES:  # after encoding, so that a corrupt image is reported as such first
        check_split_unchanged(sm.input.images, source, dataset_folder(ds, sm.params.data_root))
    write_features(sm.output[0], feats, source.labels, key, parts)
    print(f"{len(feats)} images -> features {feats.shape}, key {key}")
