"""The few-shot methods compared in Sec. 3.2, on cached features: one entry point per method name.

=============  ==========================================================================================
ct-init        CT w. init: the zero-shot head tuned on the real shots alone (CE)
tip, tip-f     Tip-Adapter (training-free cache) and Tip-Adapter-F (tuned keys); alpha/beta on few-shot val
mix-B          mix training with the zero-shot best synthetic data (LE+CF)
mix-RF         ... with LE+CF after real filtering
mix-RG         ... with real-guidance images (the paper's "CT w. Syn")
syn2real-RG,   phase-wise training on the RG images, synthetic phase first or real phase first
real2syn-RG
=============  ==========================================================================================

CoOp (``synrec/coop.py``, rule ``coop``) needs CLIP's text encoder, so it has its own rule; frozen BN (Table 6,
``synrec/frozen_bn.py``) needs the images, so it runs through ``synrec/image_ct.py``.
"""

from __future__ import annotations

import torch

from .classifier_tuning import evaluate, metrics_from_logits, train_ct
from .mix_training import train_mix, train_phasewise
from .tip_adapter import one_hot, search_alpha_beta, tip_logits, train_tip_adapter_f

METHODS = ["ct-init", "tip", "tip-f", "mix-B", "mix-RF", "mix-RG", "syn2real-RG", "real2syn-RG"]


def synthetic_source(method: str) -> str | None:
    """Which synthetic data a method trains on: 'B', 'RF', 'RG' or None."""
    return method.rsplit("-", 1)[1] if method.startswith(("mix-", "syn2real-", "real2syn-")) else None


def run_method(method: str, data: dict, cfg: dict, sce_cfg: dict, seed: int = 0, device="cpu") -> dict:
    """``data``: shot_x/shot_y, val_x/val_y, test_x/test_y, class_emb, logit_scale and, for synthetic methods,
    syn_x/syn_y. ``cfg``: the ``few_shot`` config section. Returns ``{"metrics": ..., "details": ...}``."""
    emb, scale = data["class_emb"], data["logit_scale"]
    if method == "ct-init":
        head, hist = train_ct(data["shot_x"], data["shot_y"], emb, cfg["ct_real"], "CE", seed=seed, device=device,
                              progress=False, logit_scale=scale)
        return {"metrics": evaluate(head, data["test_x"], data["test_y"]), "details": {"history": hist}}
    if method in ("tip", "tip-f"):
        tcfg = cfg["tip_adapter"]
        keys = torch.as_tensor(data["shot_x"], dtype=torch.float32)
        values = one_hot(data["shot_y"], emb.shape[0])
        alpha, beta = search_alpha_beta(data["val_x"], data["val_y"], emb, keys, values, tcfg["alphas"],
                                        tcfg["betas"], scale)
        normalize = True
        if method == "tip-f":
            keys = train_tip_adapter_f(data["shot_x"], data["shot_y"], emb, alpha, beta, tcfg["epochs"], tcfg["lr"],
                                       seed=seed, scale=scale)
            normalize = False
        logits = tip_logits(data["test_x"], emb, keys, values, alpha, beta, scale, normalize_keys=normalize)
        return {"metrics": metrics_from_logits(logits, data["test_y"]), "details": {"alpha": alpha, "beta": beta}}
    if method.startswith("mix-"):
        m = cfg["mix"]
        head, hist = train_mix(data["shot_x"], data["shot_y"], data["syn_x"], data["syn_y"], emb, m, sce_cfg,
                               m["w_real"], m["w_syn"], seed, scale, device)
        return {"metrics": evaluate(head, data["test_x"], data["test_y"]),
                "details": {"history": hist, "n_syn": int(len(data["syn_y"]))}}
    if method in ("syn2real-RG", "real2syn-RG"):
        m = cfg["mix"]
        syn_cfg = {"epochs": m["epochs"], "lr": m["lr"], "weight_decay": m["weight_decay"],
                   "batch_size": m["batch_size_syn"], "warmup_steps": m["warmup_steps"], "grad_clip": m["grad_clip"]}
        order = "syn->real" if method.startswith("syn2real") else "real->syn"
        head, hist = train_phasewise(data["shot_x"], data["shot_y"], data["syn_x"], data["syn_y"], emb, order,
                                     cfg["ct_real"], syn_cfg, sce_cfg, seed, scale, device)
        return {"metrics": evaluate(head, data["test_x"], data["test_y"]), "details": {"history": hist}}
    raise ValueError(f"unknown few-shot method {method!r} (one of {METHODS})")
