# Input functions, targets and settings of the few-shot study (Tables 5-7, Figure 1): rules/fewshot.smk and
# tables.smk use them.


def fewshot_inputs(w):
    """Features of the train/val/test splits, the head, the shots, and what the method trains on."""
    feats = f"{WORK}/{w.dataset}/features/{w.backbone}"
    inputs = {
        "split": f"{WORK}/{w.dataset}/fewshot/split-{w.shots}shot-seed{w.fseed}.json",
        "train": f"{feats}/train.h5",
        "test": f"{feats}/test.h5",
        "head": f"{WORK}/{w.dataset}/heads/{w.backbone}.pt",
        "model_manifest": clip_manifest(w.backbone),
        "train_manifest": data_manifest(w.dataset, "train"),
        "test_manifest": data_manifest(w.dataset, "test"),
    }
    if has_val_split(w.dataset):
        inputs["val"] = f"{feats}/val.h5"
        inputs["val_manifest"] = data_manifest(w.dataset, "val")
    if w.method in ("tip", "tip-f"):
        inputs["views"] = f"{WORK}/{w.dataset}/fewshot/{w.backbone}/views-{w.shots}shot-seed{w.fseed}.h5"
    source = synthetic_source(w.method)
    if source in ("B", "RF"):  # B = the zero-shot best: LE images after the CLIP filter
        inputs["syn"] = f"{feats}/syn-LE.h5"
        inputs["keep"] = f"{WORK}/{w.dataset}/synthetic/LE/cf.h5"
        inputs["images"] = f"{WORK}/{w.dataset}/synthetic/LE/images.h5"
    if source == "RF":
        inputs["rf"] = f"{WORK}/{w.dataset}/fewshot/rf-{w.shots}shot-seed{w.fseed}.h5"
    if source == "RG":
        inputs["syn"] = f"{feats}/syn-RG-{w.shots}shot-seed{w.fseed}.h5"
        inputs["images"] = f"{WORK}/{w.dataset}/synthetic/RG-{w.shots}shot-seed{w.fseed}/images.h5"
    return inputs


def fewshot_results(datasets, methods, shots=None):
    return [
        f"{RESULTS}/fewshot/{d}/{FS['backbone']}/{k}shot-seed{s}/{m}.json"
        for d in datasets
        for k in (shots or FS["shots"])
        for s in FS["seeds"]
        for m in methods
    ]


def frozen_bn_inputs(w):
    """Table 6: the shots, the zero-shot head, the CLIP model, the real images, and the synthetic images."""
    inputs = {
        "split": f"{WORK}/{w.dataset}/fewshot/split-{w.shots}shot-seed{w.fseed}.json",
        "head": f"{WORK}/{w.dataset}/heads/{w.backbone}.pt",
        "train_manifest": data_manifest(w.dataset, "train"),
        "test_manifest": data_manifest(w.dataset, "test"),
        "model": clip_manifest(w.backbone),
    }
    if w.tdata == "syn":
        if FS["table6"]["synthetic"] == "RG":
            inputs["syn"] = f"{WORK}/{w.dataset}/synthetic/RG-{w.shots}shot-seed{w.fseed}/images.h5"
        else:  # LE+CF: the zero-shot study's LE images after the CLIP filter
            inputs.update(synthetic_images(w.dataset, "LE+CF"))
    return inputs


def frozen_bn_settings(tdata):
    """Real shots tune as CT w. init does (ct_real, CE). LE+CF images as the zero-shot study's CT (ct, SCE): the
    paper's Syn/frozen-BN cell is its LE+CF-SCE number. RG images as the synthetic phase of phase-wise training (the
    mix settings, SCE)."""
    if tdata == "real":
        return {**FS["ct_real"], "loss": "CE"}
    if FS["table6"]["synthetic"] == "LE+CF":
        return {**config["ct"], "loss": "SCE"}
    m = FS["mix"]
    return {
        "epochs": m["epochs"],
        "lr": m["lr"],
        "weight_decay": m["weight_decay"],
        "batch_size": m["batch_size_syn"],
        "warmup_steps": m["warmup_steps"],
        "grad_clip": m["grad_clip"],
        "loss": "SCE",
    }


def frozen_bn_results():
    """Table 6's runs: real shots for every split seed; LE+CF images (the same for every seed) once."""
    t6 = FS["table6"]
    return [
        f"{RESULTS}/frozen_bn/{t6['dataset']}/{FS['backbone']}/{t6['shots']}shot-seed{s}/{d}-{bn}.json"
        for s in FS["seeds"]
        for d in ("real", "syn")
        for bn in ("bn-train", "bn-frozen")
        if d == "real" or t6["synthetic"] == "RG" or s == FS["seeds"][0]
    ]


def few_shot_targets():
    if not FS_DATASETS:
        return []
    targets = [f"{RESULTS}/figure1.png", f"{RESULTS}/figure1.csv", f"{RESULTS}/strategies.csv"]
    if FS["table5"]["dataset"] in FS_DATASETS and FS["table5"]["shots"] in FS["shots"]:
        targets.append(f"{RESULTS}/table5.csv")
    if FS["table6"]["dataset"] in FS_DATASETS:
        targets.append(f"{RESULTS}/table6.csv")
    if FS["table7"]["dataset"] in FS_DATASETS:
        targets.append(f"{RESULTS}/table7.csv")
    return targets


CLIP_LORA_METHODS = {"clip-lora": None, "clip-lora-RG": "RG", "clip-lora-DD": "DD", "clip-lora-DISEF": "DISEF"}


def clip_lora_inputs(w):
    """CLIP-LoRA: the shots, the head (its logit scale), the CLIP model, the real splits' manifests and, for
    clip-lora-RG / -DD (DataDream) / -DISEF, the split's synthetic images it trains on beside the shots (DISEF's:
    those its filter kept)."""
    inputs = {
        "split": f"{WORK}/{w.dataset}/fewshot/split-{w.shots}shot-seed{w.fseed}.json",
        "head": f"{WORK}/{w.dataset}/heads/{w.backbone}.pt",
        "model": clip_manifest(w.backbone),
        "train_manifest": data_manifest(w.dataset, "train"),
        "test_manifest": data_manifest(w.dataset, "test"),
    }
    syn = CLIP_LORA_METHODS[w.clmethod]
    if syn:  # RG / DD / DISEF: the images of this split
        inputs["syn"] = f"{WORK}/{w.dataset}/synthetic/{syn}-{w.shots}shot-seed{w.fseed}/images.h5"
    if syn == "DISEF":  # those its zero-shot filter kept
        inputs["keep"] = disef_keep(w.dataset, w.shots, w.fseed)
    return inputs


def clip_lora_settings(w):
    """CLIP-LoRA's settings; DISEF weighs its synthetic batches by its own share (0.2 real-to-synthetic CE)."""
    if w.clmethod == "clip-lora-DISEF":
        return {**FS["clip_lora"], "syn_weight": FS["disef"]["syn_weight"]}
    return FS["clip_lora"]


def disef_keep(dataset, shots, fseed):
    return f"{WORK}/{dataset}/synthetic/DISEF-{shots}shot-seed{fseed}/keep.h5"


def datadream_lora_dir(w):
    """The LoRA folder a DataDream generation chunk needs: its own classes' (per_class) or the one (per_dataset)."""
    chunk = w.chunk if FS["datadream"]["mode"] == "per_class" else "00000"
    return f"{WORK}/{w.dataset}/fewshot/datadream/{w.shots}shot-seed{w.fseed}/lora-{chunk}"


# The strategies table (issue 29): every few-shot way of using real shots and a generator, one protocol.
STRATEGY_METHODS = [
    "ct-init",
    "tip-f",
    "coop",
    "clip-lora",
    "mix-RG",
    "clip-lora-RG",
    "clip-lora-DD",
    "clip-lora-DISEF",
]


def strategy_benchmarks():
    """{method: {dataset: {shots: [[the benchmark files of one seed's own GPU jobs], ...]}}}: what a method runs
    beyond the features every method shares (train/test features, the zero-shot head). ct-init runs on cached
    features on a CPU (no job of its own)."""

    def own(m, d, k, s):
        split = f"{d}-{k}shot-seed{s}"
        rg = [benchmark_path("real_guidance", f"{split}-{c}") for c in generation_chunks(d, f"RG-{k}shot-seed{s}")]
        dd_chunks = generation_chunks(d, f"DD-{k}shot-seed{s}")
        lora_chunks = dd_chunks if FS["datadream"]["mode"] == "per_class" else ["00000"]
        dd = [benchmark_path("datadream_lora", f"{split}-{c}") for c in lora_chunks]
        dd += [benchmark_path("datadream_generate", f"{split}-{c}") for c in dd_chunks]
        disef = [benchmark_path("captions", split)]
        disef += [
            benchmark_path("disef_generate", f"{split}-{c}") for c in generation_chunks(d, f"DISEF-{k}shot-seed{s}")
        ]
        b = FS["backbone"]
        return {
            "ct-init": [],
            "tip-f": [benchmark_path("shot_features", f"{d}-{b}-{k}shot-seed{s}")],
            "coop": [benchmark_path("coop", f"{d}-{b}-{k}shot-seed{s}")],
            "clip-lora": [benchmark_path("clip_lora", f"{d}-{b}-{k}shot-seed{s}-clip-lora")],
            "mix-RG": rg + [benchmark_path("features", f"{d}-{b}-syn-RG-{k}shot-seed{s}")],
            "clip-lora-RG": rg + [benchmark_path("clip_lora", f"{d}-{b}-{k}shot-seed{s}-clip-lora-RG")],
            "clip-lora-DD": dd + [benchmark_path("clip_lora", f"{d}-{b}-{k}shot-seed{s}-clip-lora-DD")],
            "clip-lora-DISEF": disef
            + [
                benchmark_path("features", f"{d}-{b}-syn-DISEF-{k}shot-seed{s}"),
                benchmark_path("clip_lora", f"{d}-{b}-{k}shot-seed{s}-clip-lora-DISEF"),
            ],
        }[m]

    return {
        m: {d: {k: [own(m, d, k, s) for s in FS["seeds"]] for k in FS["shots"]} for d in FS_DATASETS}
        for m in STRATEGY_METHODS
    }
