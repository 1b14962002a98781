"""Rule coop: the CoOp baseline for one (dataset, K, seed): context learned on the shots' cached features -> JSON."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

import torch

from synrec.atomic import write_json
from synrec.coop import coop_epochs, evaluate_coop, train_coop
from synrec.manifest import check_head, check_shots, read_checked
from synrec.models import load_clip, pick_device
from synrec.results import result_record
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"coop {w.dataset} {w.backbone} {w.shots}-shot seed {w.fseed}"):
    ds, cfg = sm.params.dataset, sm.params.coop
    split = check_shots(json.loads(Path(sm.input.split).read_text()), sm.input.split, sm.input.train_manifest)
    tx, ty, _ = read_checked(sm.input.train, sm.input.model, sm.input.train_manifest)
    test_x, test_y, _ = read_checked(sm.input.test, sm.input.model, sm.input.test_manifest)
    scale = check_head(torch.load(sm.input.head, weights_only=True), sm.input.head, sm.input.model)["logit_scale"]
    device = pick_device(sm.params.device)
    model, _, tokenizer = load_clip(sm.params.model, device)
    epochs = coop_epochs(cfg, int(w.shots), w.dataset)
    print(f"CoOp: {cfg['n_ctx']} context tokens, {len(split['train'])} shots, {epochs} epochs")
    prompts, history = train_coop(model, tokenizer, ds["classnames"], tx[split["train"]], ty[split["train"]], cfg,
                                  epochs, sm.params.seed, scale, device)
    metrics = evaluate_coop(prompts, test_x, test_y, scale)
    print(f"coop: top-1 {metrics['acc1']:.2f}")
    write_json(sm.output[0], result_record(
        sm.config, w.dataset, w.backbone, "coop", metrics, n_train=len(split["train"]), seed=sm.params.seed,
        settings={**cfg, "epochs_run": epochs}, history=history,
        extra={"study": "few-shot", "shots": int(w.shots), "split_seed": int(w.fseed)}, classnames=ds["classnames"]))
