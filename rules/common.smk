# Validation, globals and input functions shared by the rules (rule files hold only rules).
# Included first by workflow/Snakefile; everything here runs once, when Snakemake parses the workflow.
import json
import os
import re
import sys
from pathlib import Path

REPO = Path(workflow.basedir).parent
sys.path.insert(0, str(REPO))  # the synrec library of this checkout, also inside a --use-conda env

from synrec import manifest as synrec_manifest
from synrec.config import CONFIG_SCHEMA, check_cross_fields, load_class_list, load_dataset_config, validate
from synrec.datasets import ZEROSHOT_TEST
from synrec.datasets import dataset_folder as synrec_dataset_folder
from synrec.datasets import has_val_split as dataset_has_val_split
from synrec.features import REAL_SOURCES
from synrec.errors import SynrecError
from synrec.few_shot_methods import METHODS as FS_METHODS
from synrec.few_shot_methods import synthetic_source
from synrec.generation import SPEED_DEFAULTS, n_chunks
from synrec.models import local_model_path
from synrec.prepare import how_to_get as synrec_how_to_get
from synrec.pretrain_data import blocks as pt_block_ids
from synrec.pretrain_data import per_class as pt_per_class_count


def _fail(exc):
    sys.exit(f"synrec: {exc}")


def _alternatives(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(n) for n in names)


try:
    validate(config, CONFIG_SCHEMA, "workflow config (config/config.yaml + --configfile/--config)")
    check_cross_fields(config)
    DATASETS = {name: load_dataset_config(name, config["dataset_config_dir"]) for name in config["datasets"]}
    PT = config["pretraining"]
    PT_TABLES = PT["tables"]
    PT_LIST_NAMES = sorted({n for space in PT["label_spaces"].values() for n in space}) if PT_TABLES else []
    CLASS_LISTS = {
        **{n: load_class_list(n, config["dataset_config_dir"], PT["label_space_dir"]) for n in PT_LIST_NAMES},
        **DATASETS,
    }
    PT_CIFAR = (
        load_dataset_config(PT["cifar"]["dataset"], config["dataset_config_dir"])
        if any(t["transfer"] == "cifar" for t in PT_TABLES.values())
        else None
    )
except SynrecError as exc:
    _fail(exc)

WORK = config["work_dir"]  # intermediate files: prompts, image and feature stores, heads, checkpoints
RESULTS = config["results_dir"]  # result JSONs, tables, figures
CF_JOINER = "+"  # data "LE+CF" = strategy LE, CLIP-filtered
CF_BACKBONE = config["clip_filter"]["backbone"]  # the CLIP filter's scorer (the paper: always RN50)
BACKBONES = config["backbones"]
TABLE1_VARIANT = config["table1"]["variant"]
TABLE2_DATASETS = [d for d in config["table2"]["datasets"] if d in DATASETS]
T3 = config["table3"]
T4 = config["table4"]
FS = config["few_shot"]
FS_DATASETS = [d for d in FS["datasets"] if d in DATASETS]
DEMO = config.get("demo_data", {})


wildcard_constraints:
    dataset=_alternatives(CLASS_LISTS),
    backbone=_alternatives(config["models"]["clip"]),
    strategy=r"B|LE|RG-\d+shot-seed\d+",
    data=r"B|LE|B\+CF|LE\+CF",
    loss="CE|SCE",
    source=r"test|zs-test|train|val|syn-B|syn-LE|syn-RG-\d+shot-seed\d+",
    chunk=r"\d+",
    shots=r"\d+",
    fseed=r"\d+",
    method=_alternatives(FS_METHODS),
    tdata="real|syn",
    bn="bn-train|bn-frozen",
    level="head|attnpool|layer4|layer3|layer2|layer1|stem",
    tsource=r"syn|real-\d+",
    classlist=_alternatives(PT_LIST_NAMES) or "^$",
    block=r"\d+-\d+",
    space=_alternatives([*PT["label_spaces"], "none"]),
    amount=_alternatives(PT["amounts"]) or "^$",
    init="random|in1k",
    ptmethod="supervised|mocov2|none",
    ptmodel=_alternatives(sorted({t["model"] for t in PT_TABLES.values()})) or "^$",


def image_settings():
    """The generation settings that change the images (batch size, job split and background encoding do not:
    scripts read those from the config, so changing them reruns nothing; nor do the safety settings while the
    checker is off, nor the speed settings at their defaults)."""
    g = config["generation"]
    skip = {"batch_size", "classes_per_job", "background_encode"}
    if g["safety_checker"] == "off":
        skip |= {"safety_checker", "safety_retries"}
    skip |= {k for k, v in SPEED_DEFAULTS.items() if g[k] == v}
    if g["image_format"] == "png":
        skip.add("jpeg_quality")
    return {k: v for k, v in g.items() if k not in skip}


def clip_spec(backbone):
    return config["models"]["clip"][backbone]


# --- content manifests (synrec.manifest): what rules take as input instead of model and dataset folders ----------

MANIFESTS = f"{WORK}/manifests"
TINY_MODELS = "resources/tiny/"  # local models rule tiny_model makes (the demo's)


def model_roles():
    """{role: model spec}: clip-<backbone>, text_to_image, word_to_sentence."""
    models = config["models"]
    return {
        **{f"clip-{b}": spec for b, spec in models["clip"].items()},
        "text_to_image": models["text_to_image"],
        "word_to_sentence": models["word_to_sentence"],
    }


def model_manifest(role):
    return f"{MANIFESTS}/model/{role}.json"


def clip_manifest(backbone):
    return model_manifest(f"clip-{backbone}")


def real_split(dataset, source):
    """The split name a real feature source reads (source train/val: the few-shot study's train/val splits)."""
    return {"train": FS["train_split"], "val": FS["val_split"], "zs-test": ZEROSHOT_TEST}.get(
        source, dataset_config(dataset)["test_split"]
    )


def data_manifest(dataset, source):
    return f"{MANIFESTS}/data/{dataset}/{source}.json"


def made_model_folder(role):
    """The model folder as input of its manifest rule when a rule makes it (tiny_model); a user's folder is not
    an input: its manifest, refreshed each run, stands for its content."""
    path = local_model_path(model_roles()[role])
    return [path] if path and path.startswith(TINY_MODELS) else []


def made_dataset_folder(dataset):
    return [dataset_dir(dataset)] if dataset in DEMO.get("datasets", []) else []


def write_manifest(out, log, compute):
    """Rules model_manifest / data_manifest: a new manifest, dated now (the jobs downstream of it rerun)."""
    from snakemake.exceptions import WorkflowError
    from synrec.atomic import write_json

    try:
        m = compute()
    except SynrecError as exc:
        Path(log).write_text(f"error: {exc}\n")
        raise WorkflowError(f"synrec: {exc}") from None
    write_json(out, m)
    Path(log).write_text(f"{out}: {json.dumps(m['identity'])}\n")


def missing_content(jobs):
    """What the manifest jobs among ``jobs`` would find missing: the dataset and model folders that are not on disk
    and that no rule makes, one line each, saying what to do."""
    lines = {}
    for job in jobs:
        name, w = job.rule.name, job.wildcards
        if name == "data_manifest" and not made_dataset_folder(w.dataset):
            cfg = dataset_config(w.dataset)
            if not Path(dataset_dir_of(cfg)).is_dir():
                lines[w.dataset] = (
                    f"dataset '{w.dataset}': folder {dataset_dir_of(cfg)} does not exist (key 'root' in "
                    f"{cfg.get('_path', 'its config')} under data_root '{config['data_root']}'): "
                    f"{synrec_how_to_get(cfg, config['data_root'])}; or leave it out with --config datasets=[...]"
                )
        elif name == "model_manifest" and not made_model_folder(w.role):
            local = local_model_path(model_roles()[w.role])
            if local and not Path(local).exists():
                lines[w.role] = (
                    f"model '{w.role}': {local} does not exist (models: in the config): copy the weights there, "
                    "or name the model by its hub id and pretrained tag"
                )
    return list(lines.values())


#: {data manifest path: one line}: the real splits that failed this run's check (refresh_manifests)
CONTENT_PROBLEMS = {}


def stop_if_content_missing():
    """onstart: before any job is submitted, list every missing dataset and model of this run at once, and every
    split that this run's check (python -m synrec.datasets --check, in refresh_manifests) failed and a job of the
    DAG reads."""
    missing = missing_content(workflow.dag.needrun_jobs())
    read = {os.path.normpath(f) for job in workflow.dag.jobs for f in job.input} | {
        os.path.normpath(f) for job in workflow.dag.needrun_jobs() for f in job.output
    }
    missing += [line for path, line in CONTENT_PROBLEMS.items() if os.path.normpath(path) in read]
    if missing:
        listing = "\n".join(f"  - {m}" for m in missing)
        sys.exit(f"synrec: {len(missing)} input(s) missing or incomplete, nothing was submitted:\n{listing}")


def used_sources(dataset):
    """The real splits of a dataset the configured studies read."""
    out = {"test", zeroshot_test_source(dataset)}
    if dataset in FS_DATASETS or dataset == T4["dataset"]:
        out |= {"train", "val"} if has_val_split(dataset) else {"train"}
    return sorted(out)


def refresh_manifests():
    """Adopt the content already on disk: create the missing manifests of the configured models and datasets,
    dated at their content's newest time (so nothing made since reruns). Then recompute every manifest and
    rewrite, and so re-date, those whose content changed. A split that fails its check keeps its old manifest (or
    gets none) and goes into CONTENT_PROBLEMS, which onstart lists."""
    roles = model_roles()
    for role, spec in roles.items():
        path, local = Path(model_manifest(role)), local_model_path(spec)
        if not path.exists() and (local is None or Path(local).exists()):
            _refresh(
                path,
                lambda prev, s=spec, l=local: synrec_manifest.create(
                    path, synrec_manifest.model_manifest(s), synrec_manifest.model_mtime_ns(l)
                ),
                create=True,
            )
    for dataset in DATASETS:
        if Path(dataset_dir(dataset)).is_dir():
            cfg = DATASETS[dataset]
            for source in used_sources(dataset):
                path = Path(data_manifest(dataset, source))
                if not path.exists():  # adopted only when it passes the check; else onstart lists the problem
                    _refresh(
                        path,
                        lambda prev, s=source: synrec_manifest.create(
                            path,
                            synrec_manifest.data_manifest(cfg, config["data_root"], real_split(dataset, s)),
                            synrec_manifest.data_mtime_ns(cfg, config["data_root"]),
                        ),
                        create=True,
                    )
    for path in sorted(Path(MANIFESTS).glob("model/*.json")):
        if path.stem in roles:
            _refresh(path, lambda prev, r=path.stem: synrec_manifest.model_manifest(roles[r], prev))
    for path in sorted(Path(MANIFESTS).glob("data/*/*.json")):
        dataset, source = path.parent.name, path.stem
        _refresh(
            path,
            lambda prev, d=dataset, s=source: synrec_manifest.data_manifest(
                dataset_config(d), config["data_root"], real_split(d, s), prev
            ),
        )


def _refresh(path, compute, create=False):
    try:
        if create:
            compute(None)
        elif synrec_manifest.refresh(path, compute):
            print(f"synrec: content changed: {path} (the jobs that read it rerun)", file=sys.stderr)
    except (SynrecError, OSError) as exc:
        CONTENT_PROBLEMS[str(path)] = str(exc)
        if not create:
            print(f"synrec: warning: {path} kept as it was: {exc}", file=sys.stderr)


def dataset_config(name):
    """A dataset's config; also for one a section names outside `datasets` (the demo data, CIFAR transfer)."""
    return DATASETS[name] if name in DATASETS else load_dataset_config(name, config["dataset_config_dir"])


def dataset_dir(name):
    return dataset_dir_of(dataset_config(name))


def dataset_dir_of(cfg):
    return str(synrec_dataset_folder(cfg, config["data_root"]))


def log_path(rule_name, pattern):
    """A job's log, under the work_dir: two configs run in one checkout keep their own logs."""
    return f"{WORK}/logs/{rule_name}/{pattern}.log"


def benchmark_path(rule_name, pattern):
    """Snakemake's per-job time and memory record (s, max_rss, ...), keyed like the log; synrec.cost reads these
    when no SLURM accounting exists."""
    return f"{WORK}/benchmarks/{rule_name}/{pattern}.tsv"


def classes_per_job(strategy):
    if strategy.startswith("RG-"):
        return config["few_shot"]["real_guidance"]["classes_per_job"]
    return config["generation"]["classes_per_job"]


def generation_chunks(dataset, strategy):
    n = n_chunks(len(DATASETS[dataset]["classnames"]), classes_per_job(strategy))
    return [f"{i:05d}" for i in range(n)]


def feature_images(w):
    """The real split's manifest (train/val/test) or the synthetic image store the features are computed from."""
    if w.source in REAL_SOURCES:
        return data_manifest(w.dataset, w.source)
    return f"{WORK}/{w.dataset}/synthetic/{w.source.removeprefix('syn-')}/images.h5"


def zeroshot_test_features(w):
    """The zero-shot study's test features: the dataset's own zero-shot test list where it has one (Food-101's
    official test set), else the test split the few-shot study uses too."""
    return f"{WORK}/{w.dataset}/features/{w.backbone}/{zeroshot_test_source(w.dataset)}.h5"


def zeroshot_test_source(dataset):
    return "zs-test" if "zeroshot_test" in DATASETS[dataset] else "test"


def ct_inputs(w):
    """Train (synthetic) and test features, the zero-shot head, and the CF keep-list for '<strategy>+CF' data."""
    strategy, _, filtering = w.data.partition(CF_JOINER)
    inputs = {
        "train": f"{WORK}/{w.dataset}/features/{w.backbone}/syn-{strategy}.h5",
        "test": zeroshot_test_features(w),
        "head": f"{WORK}/{w.dataset}/heads/{w.backbone}.pt",
        "images": f"{WORK}/{w.dataset}/synthetic/{strategy}/images.h5",  # its safety-checker counts
        "model_manifest": clip_manifest(w.backbone),
        "test_manifest": data_manifest(w.dataset, zeroshot_test_source(w.dataset)),
    }
    if filtering == "CF":
        inputs["keep"] = f"{WORK}/{w.dataset}/synthetic/{strategy}/cf.h5"
    return inputs


def synthetic_images(dataset, data):
    """The image store of a data name (B, LE, B+CF, LE+CF) and, for the +CF ones, the CLIP filter's keep-list."""
    strategy, _, filtering = data.partition(CF_JOINER)
    inputs = {"syn": f"{WORK}/{dataset}/synthetic/{strategy}/images.h5"}
    if filtering == "CF":
        inputs["keep"] = f"{WORK}/{dataset}/synthetic/{strategy}/cf.h5"
    return inputs


def partial_tuning_inputs(w):
    """Table 3: the synthetic images of table3.data, the head, the model, the real test images."""
    return {
        **synthetic_images(w.dataset, config["table3"]["data"]),
        "head": f"{WORK}/{w.dataset}/heads/{w.backbone}.pt",
        "images": data_manifest(w.dataset, "test"),
        "model": clip_manifest(w.backbone),
    }


def from_scratch_inputs(w):
    """Table 4: the synthetic images of table4.data, or the real train split; always the real test split."""
    inputs = {"test_manifest": data_manifest(w.dataset, "test")}
    if w.tsource != "syn":
        inputs["train_manifest"] = data_manifest(w.dataset, "train")
    if w.tsource == "syn":
        inputs.update(synthetic_images(w.dataset, config["table4"]["data"]))
    return inputs


def has_val_split(name):
    """A val split distinct from the test split (else few-shot validation is drawn from the train split)."""
    return dataset_has_val_split(DATASETS[name], config["few_shot"]["val_split"])


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


def demo_roots():
    """{folder name under data_root: dataset} of the made-up demo datasets (rule demo_dataset writes them)."""
    return {Path(dataset_dir(d)).name: d for d in DEMO.get("datasets", [])}


def table2_targets():
    return [f"{RESULTS}/table2.csv"] if TABLE2_DATASETS and config["table2"]["backbone"] in BACKBONES else []


def zeroshot_image_targets():
    """Tables 3 and 4, when their dataset is configured."""
    return [f"{RESULTS}/{t}.csv" for t, cfg in (("table3", T3), ("table4", T4)) if cfg["dataset"] in DATASETS]


def few_shot_targets():
    if not FS_DATASETS:
        return []
    targets = [f"{RESULTS}/figure1.png", f"{RESULTS}/figure1.csv"]
    if FS["table5"]["dataset"] in FS_DATASETS and FS["table5"]["shots"] in FS["shots"]:
        targets.append(f"{RESULTS}/table5.csv")
    if FS["table6"]["dataset"] in FS_DATASETS:
        targets.append(f"{RESULTS}/table6.csv")
    if FS["table7"]["dataset"] in FS_DATASETS:
        targets.append(f"{RESULTS}/table7.csv")
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
    return [
        (row["data"], "0" if row["data"] == "none" else col, "in1k" if row["in1k"] else "random")
        for row in t["rows"]
        for col in row["columns"]
    ]


def pt_max_per_class(name):
    """The most images per class any configured cell needs from class list ``name``."""
    need = [
        pt_per_class(space, amount)
        for t in PT_TABLES
        for space, amount, _ in pt_cells(t)
        if space != "none" and name in PT["label_spaces"][space]
    ]
    return max(need, default=0)


def pt_blocks(name):
    g = PT["generation"]
    return pt_block_ids(
        len(CLASS_LISTS[name]["classnames"]), pt_max_per_class(name), g["classes_per_job"], g["images_per_job"]
    )


def pt_shards(name):
    return [f"{WORK}/pretrain/{name}/shards/{b}.h5" for b in pt_blocks(name)]


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
    return f"{RESULTS}/transfer/{t['transfer']}/{t['model']}/{method}/{space}/{amount}/{init}.json"


def transfer_inputs(w):
    if w.space != "none":
        return {"backbone": f"{WORK}/pretrain/models/{w.ptmethod}/{w.ptmodel}/{w.space}/{w.amount}/{w.init}.pt"}
    return {"init": in1k_input(w.ptmethod, w.ptmodel, w.init)}


def transfer_init(w):
    """IN-1k weights for a '(None) + IN-1k' cell; pre-trained cells start from their backbone file instead."""
    return in1k_spec(w.ptmethod, w.ptmodel) if w.space == "none" and w.init == "in1k" else None


def pt_table_targets():
    return [f"{RESULTS}/{t}.csv" for t in PT_TABLES]


if workflow.is_main_process:  # not again inside each SLURM job, which parses the workflow too
    refresh_manifests()


onstart:
    stop_if_content_missing()  # every missing dataset and model folder at once, before a job is submitted
