"""Rule tiny_in1k (demo): random-weight stand-ins for IN-1k weights, saved as a checkpoint file. MoCo ones use the
official MoCo v2 checkpoint's layout ({'state_dict': {'module.encoder_q.<name>': ...}} with the key encoder and
queue beside), so the demo loads them through the same prefix handling as the real file."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import torch

from synrec.atomic import atomic_path
from synrec.pretrain import create
from synrec.runlog import rule_log
from synrec.seeds import derive_seed

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"tiny_in1k {w.ptmethod} {w.ptmodel}"):
    # a different stand-in per method, as real supervised and MoCo weights differ
    model = create(w.ptmodel, 10, derive_seed(sm.params.seed, "in1k", w.ptmethod, w.ptmodel), sm.params.kwargs)
    sd = model.state_dict()
    if w.ptmethod == "mocov2":
        sd = {"state_dict": {**{f"module.encoder_q.{k}": v for k, v in sd.items()},
                             **{f"module.encoder_k.{k}": v for k, v in sd.items()},
                             "module.queue": torch.zeros(8, 16)}, "arch": w.ptmodel}
    with atomic_path(sm.output[0]) as tmp:
        torch.save(sd, tmp)
    print(f"wrote {sm.output[0]} (random weights: a stand-in, not ImageNet weights)")
