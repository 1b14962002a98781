"""Rule few_shot_split: K real shots per class (and the few-shot validation set) for one (K, seed) -> JSON."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.atomic import write_json
from synrec.datasets import load_split
from synrec.few_shot import few_shot_split
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"few_shot_split {w.dataset} {w.shots}-shot seed {w.fseed}"):
    ds = sm.params.dataset
    train = load_split(ds, sm.params.data_root, sm.params.train_split)
    val = load_split(ds, sm.params.data_root, sm.params.val_split) if sm.params.val_split else None
    split = few_shot_split(train.labels, None if val is None else val.labels, int(w.shots), int(w.fseed),
                           ds["classnames"], sm.params.sampler)
    write_json(sm.output[0], {"dataset": ds["name"], "shots": int(w.shots), "seed": int(w.fseed),
                              "train": split["train"].tolist(), "val": split["val"].tolist(),
                              "val_from": split["val_from"], "sampler": sm.params.sampler,
                              "train_fingerprint": train.fingerprint()})
    print(f"{len(split['train'])} shots, {len(split['val'])} validation images (from {split['val_from']})")
