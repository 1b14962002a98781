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

from .classifier_tuning import evaluate, metrics_from_logits, train_ct
from .few_shot import METHODS, synthetic_source  # noqa: F401  (the names, torch-free, for the workflow)
from .mix_training import train_mix, train_phasewise
from .tip_adapter import cache_keys, one_hot, search_alpha_beta, search_grid, tip_logits, train_tip_adapter_f


def tip_settings(tcfg: dict, dataset: str | None) -> dict:
    """The Tip-Adapter settings for ``dataset``: its published epochs, initial alpha/beta and search scale where
    ``tip_adapter.datasets`` has them; the alpha/beta grid explicit (``alphas``/``betas``) or spanned."""
    own = (tcfg.get("datasets") or {}).get(dataset or "", {})
    t = {"init_alpha": 1.0, "init_beta": 1.0, "batch_size": 256, "search_scale": [7, 3], "search_steps": [200, 20],
         **tcfg, **own}  # (the schema's defaults, for callers that pass a partial section)
    if t.get("alphas") is None or t.get("betas") is None:
        t["alphas"], t["betas"] = search_grid(t["search_scale"], t["search_steps"])
    return t


def run_method(method: str, data: dict, cfg: dict, sce_cfg: dict, seed: int = 0, device="cpu") -> dict:
    """``data``: shot_x/shot_y, val_x/val_y, test_x/test_y, class_emb, logit_scale, the dataset's name, for
    Tip-Adapter shot_views (the shots' augmented passes) and, for synthetic methods, syn_x/syn_y. ``cfg``: the
    ``few_shot`` config section. Returns ``{"metrics": ..., "details": ...}``."""
    emb, scale = data["class_emb"], data["logit_scale"]
    if method == "ct-init":
        head, hist = train_ct(data["shot_x"], data["shot_y"], emb, cfg["ct_real"], "CE", seed=seed, device=device,
                              progress=False, logit_scale=scale)
        return {"metrics": evaluate(head, data["test_x"], data["test_y"]), "details": {"history": hist}}
    if method in ("tip", "tip-f"):
        t = tip_settings(cfg["tip_adapter"], data.get("dataset"))
        views = data.get("shot_views", data["shot_x"])  # (P, N, D) augmented passes; (N, D) without them
        keys = cache_keys(views)
        values = one_hot(data["shot_y"], emb.shape[0])
        details = {"augment_passes": 1 if getattr(views, "ndim", 2) == 2 else int(len(views))}
        if method == "tip-f":
            keys = train_tip_adapter_f(views, data["shot_y"], emb, t["init_alpha"], t["init_beta"], t["epochs"],
                                       t["lr"], t["batch_size"], seed=seed, scale=scale)
            details["epochs"] = t["epochs"]
        # searched on the few-shot val set after fine-tuning, with the keys that the test logits then use
        alpha, beta = search_alpha_beta(data["val_x"], data["val_y"], emb, keys, values, t["alphas"], t["betas"],
                                        scale)
        logits = tip_logits(data["test_x"], emb, keys, values, alpha, beta, scale)
        return {"metrics": metrics_from_logits(logits, data["test_y"]),
                "details": {"alpha": alpha, "beta": beta, **details}}
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
