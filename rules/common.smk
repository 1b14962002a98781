# Validation, globals and input functions shared by the rules (rule files hold only rules).
# Included first by workflow/Snakefile; everything here runs once, when Snakemake parses the workflow.
import re
import sys
from pathlib import Path

REPO = Path(workflow.basedir).parent
sys.path.insert(0, str(REPO))  # the synrec library of this checkout, also inside a --use-conda env

from synrec import cpu_isa as synrec_cpu_isa
from synrec.atomic import check_writable as synrec_check_writable
from synrec import manifest as synrec_manifest
from synrec import manifest_run as synrec_manifest_run
from synrec.config import CONFIG_SCHEMA, check_cross_fields, load_class_list, load_dataset_config, validate
from synrec.config import SPEED_DEFAULTS, n_chunks, table3_epochs
from synrec.config import generation_settings as synrec_generation_settings
from synrec.datasets import dataset_folder as synrec_dataset_folder
from synrec.datasets import has_val_split as dataset_has_val_split
from synrec.datasets import REAL_SOURCES
from synrec.errors import SynrecError
from synrec.few_shot import METHODS as FS_METHODS
from synrec.few_shot import synthetic_source
from synrec.models import local_model_path
from synrec.models import offline_jobs as synrec_offline_jobs
from synrec.prepare import how_to_get as synrec_how_to_get
from synrec.pretrain_data import blocks as pt_block_ids
from synrec.pretrain_data import per_class as pt_per_class_count
from synrec.tables import generator_variant as synrec_generator_variant


def _fail(exc):
    sys.exit(f"synrec: {exc}")


def _alternatives(names):
    """A wildcard constraint matching exactly the given names."""
    return "|".join(re.escape(n) for n in names)


try:
    validate(config, CONFIG_SCHEMA, "workflow config (config/config.yaml + --configfile/--config)")
    check_cross_fields(config)
    synrec_cpu_isa.pin(config["cpu_isa"])  # before any job starts: jobs inherit the environment
    synrec_offline_jobs()  # HF_HUB_OFFLINE=1 for every job, unless set otherwise: models are checked before
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
    if workflow.is_main_process:  # a read-only results or work folder: one line now, not a traceback at the end
        synrec_check_writable({k: config[k] for k in ("work_dir", "results_dir")})
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
GENERATORS = config["generators"]  # more text-to-image models beside models.text_to_image: strategies LE@<name>
AT_GENERATOR = f"(@({_alternatives(GENERATORS)}))?" if GENERATORS else ""


wildcard_constraints:
    dataset=_alternatives(CLASS_LISTS),
    backbone=_alternatives(config["models"]["clip"]),
    strategy=rf"(B|LE){AT_GENERATOR}|(RG|DD|DISEF)-\d+shot-seed\d+",
    data=rf"(B|LE){AT_GENERATOR}(\+CF)?",
    loss="CE|SCE",
    source=rf"test|zs-test|train|val|syn-(B|LE){AT_GENERATOR}|syn-(RG|DD|DISEF)-\d+shot-seed\d+",
    chunk=r"\d+",
    shots=r"\d+",
    fseed=r"\d+",
    method=_alternatives(FS_METHODS),
    clmethod="clip-lora|clip-lora-RG|clip-lora-DD|clip-lora-DISEF",
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


def clip_spec(backbone):
    return config["models"]["clip"][backbone]


# --- content manifests (synrec.manifest, synrec.manifest_run): what rules take as input instead of model and ------
# --- dataset folders; refreshed before the DAG is built, checked before any job is submitted -----------------------

MANIFESTS = f"{WORK}/manifests"
TINY_MODELS = "resources/tiny/"  # local models rule tiny_model makes (the demo's)
write_manifest = synrec_manifest_run.write_manifest  # the manifest rules' body


def model_roles():
    """{role: model spec}: clip-<backbone>, text_to_image, text_to_image@<generator>, word_to_sentence."""
    return synrec_manifest_run.model_roles(config["models"], GENERATORS)


def model_manifest(role):
    """The manifest of the model the config names for ``role`` now: one file per model (synrec.manifest.model_key)."""
    return str(synrec_manifest_run.model_manifest_path(MANIFESTS, role, model_roles()[role]))


def clip_manifest(backbone):
    return model_manifest(f"clip-{backbone}")


def real_split(dataset, source):
    """The split name a real feature source reads (source train/val: the few-shot study's train/val splits)."""
    return synrec_manifest_run.source_split(dataset_config(dataset), source, FS["train_split"], FS["val_split"])


def data_manifest(dataset, source):
    return f"{MANIFESTS}/data/{dataset}/{source}.json"


def made_model_folder(role):
    """The model folder as input of its manifest rule when a rule makes it (tiny_model); a user's folder is not
    an input: its manifest, refreshed each run, stands for its content."""
    path = local_model_path(model_roles()[role])
    return [path] if path and path.startswith(TINY_MODELS) else []


def demo_training(kind):
    """The demo_models steps a tiny model of this kind is trained with."""
    keys = {"stable-diffusion": ["vae_steps", "unet_steps"], "t5": ["t5_steps"], "captioner": ["captioner_steps"]}
    return {k: config["demo_models"][k] for k in keys.get(kind, ["clip_steps"])}


def made_dataset_folder(dataset):
    return [dataset_dir(dataset)] if dataset in DEMO.get("datasets", []) else []


def made_by_a_rule(kind, name):
    return bool(made_dataset_folder(name) if kind == "dataset" else made_model_folder(name))


def used_sources(dataset):
    """The real splits of a dataset the configured studies read."""
    out = {"test", zeroshot_test_source(dataset)}
    if dataset in FS_DATASETS or dataset == T4["dataset"]:
        out |= {"train", "val"} if has_val_split(dataset) else {"train"}
    return sorted(out)


def stop_if_content_missing():
    """onstart: before any job is submitted, list every missing dataset and model of this run at once, and every
    split that this run's check (python -m synrec.datasets --check, in the refresh) failed and a job of the DAG
    reads."""
    dag = workflow.dag
    missing = synrec_manifest_run.missing_content(
        dag.needrun_jobs(), model_roles(), config["data_root"], dataset_config, made_by_a_rule, synrec_how_to_get
    )
    read = [f for job in dag.jobs for f in job.input] + [f for job in dag.needrun_jobs() for f in job.output]
    message = synrec_manifest_run.stop_message(missing, CONTENT_PROBLEMS, read)
    if message:
        sys.exit(message)


# --- datasets and paths; each study's input functions are in rules/<study>_inputs.smk ------------------------------


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


def zeroshot_test_source(dataset):
    return "zs-test" if "zeroshot_test" in DATASETS[dataset] else "test"


def has_val_split(name):
    """A val split distinct from the test split (else few-shot validation is drawn from the train split)."""
    return dataset_has_val_split(DATASETS[name], config["few_shot"]["val_split"])


def demo_roots():
    """{folder name under data_root: dataset} of the made-up demo datasets (rule demo_dataset writes them)."""
    return {Path(dataset_dir(d)).name: d for d in DEMO.get("datasets", [])}


#: {data manifest path: one line}: the real splits that failed this run's check; not again inside each SLURM job,
#: which parses the workflow too
CONTENT_PROBLEMS = {}
if workflow.is_main_process:
    CONTENT_PROBLEMS = synrec_manifest_run.refresh_all(
        MANIFESTS,
        model_roles(),
        DATASETS,
        {d: used_sources(d) for d in DATASETS},
        config["data_root"],
        real_split,
        dataset_config,
        dry_run=synrec_manifest_run.dry_run_requested(sys.argv),
    )


onstart:
    stop_if_content_missing()  # every missing dataset and model folder at once, before a job is submitted
