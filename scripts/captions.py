"""Rule captions: DISEF's captions of the shots of one (dataset, K, seed), each keyed by its index into the train
split -> JSON."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

from synrec.atomic import write_json
from synrec.captioning import DEFAULTS, caption_images, load_captioner
from synrec.datasets import load_split
from synrec.manifest import check_shots, identity
from synrec.models import pick_device
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"captions {w.dataset} {w.shots}-shot seed {w.fseed}"):
    ds, cfg = sm.params.dataset, {**DEFAULTS, **sm.params.captioning}
    train = load_split(ds, sm.params.data_root, sm.params.train_split)
    shots = check_shots(json.loads(Path(sm.input.split).read_text()), sm.input.split, sm.input.train_manifest,
                        train.fingerprint())["train"]
    processor, model = load_captioner(sm.params.model, pick_device(sm.params.device))
    names = [ds["classnames"][int(train.labels[i])] for i in shots]
    captions = caption_images(processor, model, [train.image(i) for i in shots], names, cfg)
    for i, c in list(zip(shots, captions))[:4]:
        print(f"shot {i}: {c}")
    write_json(sm.output[0], {"captions": {str(i): c for i, c in zip(shots, captions)},
                              "classes": {str(i): n for i, n in zip(shots, names)},
                              "model": identity(sm.input.model), "settings": cfg,
                              "train_fingerprint": train.fingerprint()})
