"""Rule clip_lora: CLIP-LoRA for one (dataset, backbone, K, seed), on the shots alone or beside synthetic images ->
result JSON, and the adapters in peft's format."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

import torch

from synrec.atomic import atomic_dir, write_json
from synrec.clip_lora import (
    DEFAULTS,
    evaluate_clip_lora,
    lora_delta_norm,
    n_adapter_parameters,
    save_adapters,
    total_steps,
    train_clip_lora,
)
from synrec.datasets import load_split
from synrec.features import train_augmentation
from synrec.manifest import check_head, check_shots
from synrec.models import load_clip, pick_device
from synrec.results import result_record
from synrec.runlog import rule_log, throughput_settings
from synrec.stores import open_synthetic, safety_counts

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"clip_lora {w.dataset} {w.backbone} {w.shots}-shot seed {w.fseed} {w.clmethod}"):
    torch.set_num_threads(max(1, sm.threads))
    ds, fcfg, cfg = sm.params.dataset, throughput_settings(sm, "features"), {**DEFAULTS, **sm.params.clip_lora}
    device = pick_device(sm.params.device)
    model, preprocess, tokenizer = load_clip(sm.params.model, device)
    scale = check_head(torch.load(sm.input.head, weights_only=True), sm.input.head, sm.input.model)["logit_scale"]
    real = load_split(ds, sm.params.data_root, sm.params.train_split)
    shots = check_shots(json.loads(Path(sm.input.split).read_text()), sm.input.split, sm.input.train_manifest,
                        real.fingerprint())["train"]
    syn, syn_idx = open_synthetic(sm.input.syn, sm.input.get("keep")) if "syn" in sm.input.keys() else (None, [])
    template = ds["templates"][0]
    towers = {"both": "both encoders", "vision": "the image encoder", "text": "the text encoder"}[cfg["encoder"]]
    print(f"CLIP-LoRA: rank {cfg['rank']} on {'/'.join(cfg['params'])} of {towers}; "
          f"{len(shots)} shots{f' + {len(syn_idx)} synthetic ({sm.params.synthetic})' if syn else ''}; "
          f"{total_steps(cfg, int(w.shots))} steps; prompt {template!r}")
    augment = train_augmentation(preprocess, tuple(cfg["crop_scale"]))
    model, adapted, history = train_clip_lora(model, tokenizer, augment, real, shots, ds["classnames"], template, cfg,
                                              int(w.shots), syn, syn_idx, scale, sm.params.seed, device)
    test = load_split(ds, sm.params.data_root, ds["test_split"])
    metrics = evaluate_clip_lora(model, tokenizer, preprocess, test, ds["classnames"], template, scale, device,
                                 fcfg["batch_size"], fcfg["num_workers"])
    print(f"{w.clmethod}: top-1 {metrics['acc1']:.2f}")
    with atomic_dir(sm.output.adapters) as tmp:
        if adapted is None:
            tmp.mkdir(parents=True)
            (tmp / "NO_ADAPTERS").write_text("rank 0 or no steps: zero-shot CLIP, nothing adapted\n")
        else:
            save_adapters(adapted, tmp)
    extra = {"study": "few-shot", "shots": int(w.shots), "split_seed": int(w.fseed), "template": template,
             "adapter_parameters": n_adapter_parameters(adapted) if adapted else 0,
             "adapter_delta_norm": lora_delta_norm(adapted) if adapted else 0.0}
    if syn is not None:
        extra["synthetic"] = {"source": sm.params.synthetic, "images": len(syn_idx), **safety_counts(sm.input.syn)}
    write_json(sm.output.result, result_record(
        sm.config, w.dataset, w.backbone, w.clmethod, metrics, n_train=len(shots) + len(syn_idx),
        seed=sm.params.seed, settings={**cfg, "steps": total_steps(cfg, int(w.shots))}, history=history,
        extra=extra, classnames=ds["classnames"]))
