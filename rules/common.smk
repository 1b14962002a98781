# Helper functions shared by the rules (kept here so rule files hold only rules).
import re

from synrec.few_shot_methods import synthetic_source
from synrec.models import local_model_path


def _fail(exc):
    sys.exit(f"synrec: {exc}")


def _alternatives(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(n) for n in names)


def image_settings():
    """The generation settings that change the images (batch size and job split do not: scripts read those from
    the config, so changing them reruns nothing)."""
    return {k: v for k, v in config["generation"].items() if k not in ("batch_size", "classes_per_job")}


def model_input(spec):
    """A local model folder is an input (so rule tiny_model can build it); a hub name needs none."""
    path = local_model_path(spec)
    return [path] if path else []


def clip_spec(backbone):
    return config["models"]["clip"][backbone]


def dataset_dir(name):
    return dataset_dir_of(DATASETS[name])


def dataset_dir_of(cfg):
    root = Path(cfg["root"])
    return str(root if root.is_absolute() else Path(config["data_root"]) / root)


def log_path(rule_name, pattern):
    return f"logs/{rule_name}/{pattern}.log"


def classes_per_job(strategy):
    if strategy.startswith("RG-"):
        return config["few_shot"]["real_guidance"]["classes_per_job"]
    return config["generation"]["classes_per_job"]


def generation_chunks(dataset, strategy):
    n = n_chunks(len(DATASETS[dataset]["classnames"]), classes_per_job(strategy))
    return [f"{i:05d}" for i in range(n)]


def feature_images(w):
    """The real dataset folder (train/val/test split) or the synthetic image store the features are computed from."""
    if w.source in ("test", "train", "val"):
        return dataset_dir(w.dataset)
    return f"{W}/{w.dataset}/synthetic/{w.source.removeprefix('syn-')}/images.h5"


def ct_inputs(w):
    """Train (synthetic) and test features, the zero-shot head, and the CF keep-list for '<strategy>+CF' data."""
    strategy, _, filtering = w.data.partition(CF_JOINER)
    inputs = {
        "train": f"{W}/{w.dataset}/features/{w.backbone}/syn-{strategy}.h5",
        "test": f"{W}/{w.dataset}/features/{w.backbone}/test.h5",
        "head": f"{W}/{w.dataset}/heads/{w.backbone}.pt",
    }
    if filtering == "CF":
        inputs["keep"] = f"{W}/{w.dataset}/synthetic/{strategy}/cf.h5"
    return inputs


def synthetic_images(dataset, data):
    """The image store of a data name (B, LE, B+CF, LE+CF) and, for the +CF ones, the CLIP filter's keep-list."""
    strategy, _, filtering = data.partition(CF_JOINER)
    inputs = {"syn": f"{W}/{dataset}/synthetic/{strategy}/images.h5"}
    if filtering == "CF":
        inputs["keep"] = f"{W}/{dataset}/synthetic/{strategy}/cf.h5"
    return inputs


def partial_tuning_inputs(w):
    """Table 3: the synthetic images of table3.data, the head, the model, the real test images."""
    return {
        **synthetic_images(w.dataset, config["table3"]["data"]),
        "head": f"{W}/{w.dataset}/heads/{w.backbone}.pt",
        "images": dataset_dir(w.dataset),
        "model": model_input(clip_spec(w.backbone)),
    }


def from_scratch_inputs(w):
    """Table 4: the synthetic images of table4.data, or the real dataset; always the real test split."""
    inputs = {"images": dataset_dir(w.dataset)}
    if w.tsource == "syn":
        inputs.update(synthetic_images(w.dataset, config["table4"]["data"]))
    return inputs


def has_val_split(name):
    """A val split distinct from the test split (else few-shot validation is drawn from the train split)."""
    cfg = DATASETS[name]
    role = config["few_shot"]["val_split"]
    return cfg["format"] != "cifar" and role in cfg["splits"] and cfg["splits"][role] != cfg["splits"].get(
        cfg["test_split"], cfg["test_split"]
    )


def fewshot_inputs(w):
    """Features of the train/val/test splits, the head, the shots, and what the method trains on."""
    feats = f"{W}/{w.dataset}/features/{w.backbone}"
    inputs = {
        "split": f"{W}/{w.dataset}/fewshot/split-{w.shots}shot-seed{w.fseed}.json",
        "train": f"{feats}/train.h5",
        "test": f"{feats}/test.h5",
        "head": f"{W}/{w.dataset}/heads/{w.backbone}.pt",
    }
    if has_val_split(w.dataset):
        inputs["val"] = f"{feats}/val.h5"
    source = synthetic_source(w.method)
    if source in ("B", "RF"):  # B = the zero-shot best: LE images after the CLIP filter
        inputs["syn"] = f"{feats}/syn-LE.h5"
        inputs["keep"] = f"{W}/{w.dataset}/synthetic/LE/cf.h5"
    if source == "RF":
        inputs["rf"] = f"{W}/{w.dataset}/fewshot/rf-{w.shots}shot-seed{w.fseed}.h5"
    if source == "RG":
        inputs["syn"] = f"{feats}/syn-RG-{w.shots}shot-seed{w.fseed}.h5"
    return inputs


def fewshot_results(datasets, methods, shots=None):
    return [
        f"{R}/fewshot/{d}/{FS['backbone']}/{k}shot-seed{s}/{m}.json"
        for d in datasets
        for k in (shots or FS["shots"])
        for s in FS["seeds"]
        for m in methods
    ]


def frozen_bn_inputs(w):
    """Table 6: the shots, the zero-shot head, the CLIP model, the real images, and the synthetic images."""
    inputs = {
        "split": f"{W}/{w.dataset}/fewshot/split-{w.shots}shot-seed{w.fseed}.json",
        "head": f"{W}/{w.dataset}/heads/{w.backbone}.pt",
        "images": dataset_dir(w.dataset),
        "model": model_input(clip_spec(w.backbone)),
    }
    if w.tdata == "syn":
        if FS["table6"]["synthetic"] == "RG":
            inputs["syn"] = f"{W}/{w.dataset}/synthetic/RG-{w.shots}shot-seed{w.fseed}/images.h5"
        else:  # B: LE images after the CLIP filter
            inputs.update(synthetic_images(w.dataset, "LE+CF"))
    return inputs


def frozen_bn_settings(tdata):
    """Real shots tune as CT w. init does (ct_real, CE); synthetic images as the synthetic phase of phase-wise
    training (the mix settings, SCE)."""
    if tdata == "real":
        return {**FS["ct_real"], "loss": "CE"}
    m = FS["mix"]
    return {"epochs": m["epochs"], "lr": m["lr"], "weight_decay": m["weight_decay"], "batch_size": m["batch_size_syn"],
            "warmup_steps": m["warmup_steps"], "grad_clip": m["grad_clip"], "loss": "SCE"}


def frozen_bn_results():
    t6 = FS["table6"]
    return [
        f"{R}/frozen_bn/{t6['dataset']}/{FS['backbone']}/{t6['shots']}shot-seed{s}/{d}-{bn}.json"
        for s in FS["seeds"]
        for d in ("real", "syn")
        for bn in ("bn-train", "bn-frozen")
    ]


def few_shot_targets():
    if not FS_DATASETS:
        return []
    targets = [f"{R}/figure1.png", f"{R}/figure1.csv"]
    if FS["table5"]["dataset"] in FS_DATASETS and FS["table5"]["shots"] in FS["shots"]:
        targets.append(f"{R}/table5.csv")
    if FS["table6"]["dataset"] in FS_DATASETS:
        targets.append(f"{R}/table6.csv")
    if FS["table7"]["dataset"] in FS_DATASETS:
        targets.append(f"{R}/table7.csv")
    return targets


# --- Sec. 3.3: pre-training and transfer (rules/pretraining.smk) ---------------------------------------------------


def pt_space_lists(space):
    """The class lists of a label space with their label offsets: [(name, offset), ...]."""
    out, offset = [], 0
    for name in PT["label_spaces"][space]:
        out.append((name, offset))
        offset += len(CLASS_LISTS[name]["classnames"])
    return out


def pt_n_classes(space):
    return sum(len(CLASS_LISTS[n]["classnames"]) for n in PT["label_spaces"][space])


def pt_per_class(space, amount):
    return pt_per_class_count(PT["amounts"][amount], pt_n_classes(space))


def pt_cells(table):
    """(space, amount, init) of every cell of a table; space 'none' = no synthetic pre-training."""
    t = PT_TABLES[table]
    return [(row["data"], "0" if row["data"] == "none" else col, "in1k" if row["in1k"] else "random")
            for row in t["rows"] for col in row["columns"]]


def pt_max_per_class(name):
    """The most images per class any configured cell needs from class list ``name``."""
    need = [pt_per_class(space, amount) for t in PT_TABLES for space, amount, _ in pt_cells(t)
            if space != "none" and name in PT["label_spaces"][space]]
    return max(need, default=0)


def pt_blocks(name):
    g = PT["generation"]
    return pt_block_ids(len(CLASS_LISTS[name]["classnames"]), pt_max_per_class(name), g["classes_per_job"],
                        g["images_per_job"])


def pt_shards(name):
    return [f"{W}/pretrain/{name}/shards/{b}.h5" for b in pt_blocks(name)]


def in1k_spec(method, model):
    return PT["in1k_weights"][method][model]  # present: the Snakefile checks every table's keys up front


def in1k_input(method, model, init):
    """The IN-1k weights file as an input (so rule tiny_in1k can build the demo's); timm tags need none."""
    if init != "in1k":
        return []
    spec = in1k_spec(method, model)
    return [] if spec.startswith("timm:") else [spec]


def pretrain_inputs(w):
    shards = [p for name, _ in pt_space_lists(w.space) for p in pt_shards(name)]
    return {"shards": shards, "init": in1k_input(w.ptmethod, w.ptmodel, w.init)}


def pretrain_settings(method, model):
    if method == "mocov2":
        return PT["mocov2"]
    return PT["supervised"][model]


def transfer_method(method, space, init):
    """Random weights and no pre-training are the same cell whatever the table's method."""
    return "none" if space == "none" and init == "random" else method


def transfer_result(table, space, amount, init):
    t = PT_TABLES[table]
    method = transfer_method(t["method"], space, init)
    return f"{R}/transfer/{t['transfer']}/{t['model']}/{method}/{space}/{amount}/{init}.json"


def transfer_inputs(w):
    if w.space != "none":
        return {"backbone": f"{W}/pretrain/models/{w.ptmethod}/{w.ptmodel}/{w.space}/{w.amount}/{w.init}.pt"}
    return {"init": in1k_input(w.ptmethod, w.ptmodel, w.init)}


def transfer_init(w):
    """IN-1k weights for a '(None) + IN-1k' cell; pre-trained cells start from their backbone file instead."""
    return in1k_spec(w.ptmethod, w.ptmodel) if w.space == "none" and w.init == "in1k" else None


def pt_table_targets():
    return [f"{R}/{t}.csv" for t in PT_TABLES]
