"""Rule text_head: zero-shot classifier (template-ensembled class text embeddings) for one dataset and backbone."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import torch

from synrec.atomic import atomic_path
from synrec.features import text_classifier
from synrec.manifest import identity
from synrec.models import load_clip, pick_device
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
with rule_log(sm.log, f"text_head {sm.wildcards.dataset} {sm.wildcards.backbone}"):
    ds = sm.params.dataset
    device = pick_device(sm.params.device)
    model, _, tokenizer = load_clip(sm.params.model, device)
    emb = text_classifier(model, tokenizer, ds["classnames"], ds["templates"], device)
    with atomic_path(sm.output[0]) as tmp:
        torch.save({"class_emb": emb, "logit_scale": float(model.logit_scale.exp()), "templates": ds["templates"],
                    "classnames": ds["classnames"], "model": identity(sm.input.model)}, tmp)
