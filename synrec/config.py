"""Loading and validating the workflow config and the per-dataset configs.

``config/config.yaml`` is the paper's setup and ``config/datasets/<name>.yaml`` describes one dataset (class names
in label order, CLIP templates, task type, on-disk format). Both are validated against JSON schemas in ``config/``
with ``snakemake.utils.validate`` (which also fills in schema defaults); a failure becomes one line naming the file
and the key.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from .errors import SynrecError

#: libyaml's parser where PyYAML was built with it (the same documents, about 10x faster: every Snakemake start reads
#: the schemas and the dataset files)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

REPO_ROOT = Path(__file__).resolve().parent.parent

#: generation's speed settings and their defaults (synrec.generation.apply_speed_settings): they change how fast
#: images come, not which images, so a shard records them only where they differ from these
SPEED_DEFAULTS = {"sampler": "pipeline", "attention": "sdpa", "channels_last": False, "compile": False,
                  "vae_decode": "batched", "image_format": "png", "jpeg_quality": 95}


def table3_epochs(cfg: dict) -> int:
    """Epochs of each Table 3 run: ``table3.epochs``, or CT's (``ct.epochs``) where it is null, as in the paper."""
    return cfg["table3"].get("epochs") or cfg["ct"]["epochs"]


def n_chunks(n_classes: int, classes_per_job: int) -> int:
    """Jobs a per-class fan-out of ``n_classes`` takes at ``classes_per_job``."""
    return -(-n_classes // classes_per_job)
CONFIG_SCHEMA = REPO_ROOT / "config" / "schema.yaml"
DATASET_SCHEMA = REPO_ROOT / "config" / "dataset.schema.yaml"


def _key_path(error) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "<top level>"


def _strict_validator(schema: dict):
    """A validator for which 16.0 is not an integer (JSON Schema counts it as one; Python's range() does not)."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine(
        "integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool))
    return jsonschema.validators.extend(base, type_checker=checker)(schema)


def validate(data: dict, schema_path: str | Path, source: str) -> dict:
    """Validate ``data`` (in place, defaults filled) against a JSON schema; raise a one-line SynrecError. A whole
    number written with a decimal point (``16.0``) where the schema wants an integer is refused too."""
    import jsonschema
    from snakemake.utils import validate as sm_validate

    try:
        sm_validate(data, str(schema_path), set_default=True)
    except Exception as exc:  # snakemake wraps jsonschema's error in a multi-line WorkflowError
        schema = _schema(str(schema_path))
        err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(data))
        if err is None:
            raise SynrecError(f"{source}: invalid ({exc})") from None
        raise SynrecError(f"{source}: key '{_key_path(err)}': {err.message}") from None
    schema = _schema(str(schema_path))
    err = jsonschema.exceptions.best_match(_strict_validator(schema).iter_errors(data))
    if err is not None:
        raise SynrecError(f"{source}: key '{_key_path(err)}': {err.message} (write a whole number without a decimal "
                          "point)")
    return data


@functools.lru_cache(maxsize=8)
def _schema(path: str) -> dict:
    return yaml.load(Path(path).read_text(), Loader=_YAML_LOADER)


def read_yaml(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise SynrecError(f"{path}: file not found")
    try:
        return yaml.load(path.read_text(), Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise SynrecError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None


def load_dataset_config(name: str, config_dir: str | Path) -> dict:
    """Read and validate ``<config_dir>/<name>.yaml``; checks that templates hold ``{c}`` and names are unique."""
    path = Path(config_dir) / f"{name}.yaml"
    if not path.is_file():
        raise SynrecError(f"dataset '{name}': {path} not found (one YAML file per dataset in {config_dir})")
    cfg = read_yaml(path)
    if not isinstance(cfg, dict):
        raise SynrecError(f"{path}: expected a mapping at the top level")
    validate(cfg, DATASET_SCHEMA, str(path))
    if cfg["name"] != name:
        raise SynrecError(f"{path}: key 'name' is '{cfg['name']}' but the file is named '{name}.yaml'")
    for i, t in enumerate(cfg["templates"]):
        if "{c}" not in t:
            raise SynrecError(f"{path}: key 'templates.{i}' must contain '{{c}}' (got {t!r})")
    if "{}" not in cfg["generation_template"]:
        raise SynrecError(f"{path}: key 'generation_template' must contain '{{}}'")
    names = cfg["classnames"]  # repeats are legal: CLIP's ImageNet names have 'missile' twice
    for key in ("disk_classnames", "prompt_classnames"):
        other = cfg.get(key)
        if other is not None and len(other) != len(names):
            raise SynrecError(f"{path}: key '{key}' has {len(other)} entries but 'classnames' has {len(names)}")
    cfg["_path"] = str(path)
    return cfg


def load_class_list(name: str, dataset_dir: str | Path, label_space_dir: str | Path) -> dict:
    """A class list of a pre-training label space: a dataset config, or ``<label_space_dir>/<name>.yaml`` (name,
    title, classnames; optional le_keyword and generation_template, defaults as for datasets)."""
    if (Path(dataset_dir) / f"{name}.yaml").is_file():
        return load_dataset_config(name, dataset_dir)
    path = Path(label_space_dir) / f"{name}.yaml"
    if not path.is_file():
        raise SynrecError(f"class list '{name}': neither {Path(dataset_dir) / name}.yaml nor {path} exists")
    cfg = read_yaml(path)
    names = cfg.get("classnames") if isinstance(cfg, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(c, str) and c for c in names):
        raise SynrecError(f"{path}: key 'classnames' must be a non-empty list of names")
    if cfg.get("name") != name:
        raise SynrecError(f"{path}: key 'name' is {cfg.get('name')!r} but the file is named '{name}.yaml'")
    return {"title": name, "le_keyword": "{}", "generation_template": "a photo of {}", **cfg, "_path": str(path)}


def stable_hash(obj: Any, length: int = 16) -> str:
    """sha256 of the canonical JSON of ``obj`` (sorted keys), truncated: the key of caches and results."""
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def config_hash(config: dict) -> str:
    """Hash of the workflow config, recorded in every result so numbers can be traced to their setup."""
    return stable_hash({k: v for k, v in config.items() if not k.startswith("_")})


def generation_settings(config: dict, strategy: str | None = None) -> dict:
    """``config['generation']`` with the settings that the strategy's named generator (``LE@<name>``) changes."""
    for prefix, section in (("DD-", "datadream"), ("DISEF-", "disef")):  # a peer's images: its own count,
        if (strategy or "").startswith(prefix):  # guidance and job split
            own = config["few_shot"][section]
            return {**config["generation"],
                    **{k: own[k] for k in ("guidance_scale", "images_per_class", "classes_per_job")}}
    name = (strategy or "").partition("@")[2]
    return {**config["generation"], **(config["generators"][name].get("generation", {}) if name else {})}


def check_cross_fields(config: dict) -> None:
    """The checks one schema cannot express: every backbone named by a study is a key of ``models.clip``, and every
    pre-training table names label spaces, amounts and models that have settings. Raises a one-line SynrecError."""
    clip_models = config["models"]["clip"]
    for bb in config["backbones"] + [config["clip_filter"]["backbone"], config["few_shot"]["backbone"]]:
        if bb not in clip_models:
            raise SynrecError(f"workflow config: backbone '{bb}' is not a key of models.clip ({sorted(clip_models)})")
    gen_keys = set(config["generation"]) | {"negative_prompt", "call_kwargs"}
    for name, spec in config["generators"].items():
        for key in spec.get("generation", {}):
            if key not in gen_keys:
                raise SynrecError(f"workflow config: generators.{name}.generation.{key} is not a generation setting "
                                  f"(expected one of {sorted(gen_keys)})")
    table = config["generators_table"]
    for name in table.get("generators", []):
        if name != "default" and name not in config["generators"]:
            raise SynrecError(f"workflow config: generators_table.generators names '{name}', which is neither "
                              f"'default' nor a key of generators ({sorted(config['generators'])})")
    if table.get("backbone") and table["backbone"] not in clip_models:
        raise SynrecError(f"workflow config: generators_table.backbone '{table['backbone']}' is not a key of "
                          f"models.clip ({sorted(clip_models)})")
    pt = config["pretraining"]
    for name, spec in pt["tables"].items():
        where = f"workflow config: pretraining.tables.{name}"
        for row in spec["rows"]:
            if row["data"] != "none" and row["data"] not in pt["label_spaces"]:
                raise SynrecError(
                    f"{where}: data '{row['data']}' is not a label space ({sorted(pt['label_spaces'])}) or none"
                )
            for col in row["columns"]:
                if col not in spec["columns"] or col not in pt["amounts"]:
                    raise SynrecError(
                        f"{where}: column '{col}' must be in the table's columns and in pretraining.amounts"
                    )
        model, method = spec["model"], spec["method"]
        if method == "supervised" and model not in pt["supervised"]:
            raise SynrecError(
                f"{where} uses model '{model}': key 'pretraining.supervised.{model}' (its training settings) is missing"
            )
        if spec["transfer"] == "cifar" and model not in pt["cifar"]["train"]:
            raise SynrecError(
                f"{where} uses model '{model}': key 'pretraining.cifar.train.{model}' (its fine-tuning settings) "
                "is missing"
            )
        if any(r["in1k"] for r in spec["rows"]) and model not in pt["in1k_weights"].get(method, {}):
            raise SynrecError(f"{where} has an in1k row: key 'pretraining.in1k_weights.{method}.{model}' is missing")


def check_config_files(paths: list[str | Path], base: str | Path = REPO_ROOT / "config" / "config.yaml") -> dict:
    """The config the workflow would see with ``--configfile paths...``: each file read (a YAML error names the
    file and line, which Snakemake's own "Config file is not valid JSON or YAML" does not), merged over ``base`` the
    way Snakemake merges them, then validated like the workflow does. Raises a one-line SynrecError."""
    from snakemake.utils import update_config

    cfg = read_yaml(base)
    for path in paths:
        data = read_yaml(path)
        if data is None:
            continue
        if not isinstance(data, dict):
            raise SynrecError(f"{path}: a config file must be a mapping of keys, not a {type(data).__name__}")
        update_config(cfg, data)
    names = ", ".join(str(p) for p in paths) or str(base)
    validate(cfg, CONFIG_SCHEMA, f"{names} (over {Path(base).name})")
    check_cross_fields(cfg)
    return cfg


def main(argv: list[str] | None = None) -> int:
    """``python -m synrec.config FILE...``: check config files before a long run; one line per problem."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("files", nargs="*", help="--configfile files, in the order Snakemake would merge them")
    args = ap.parse_args(argv)
    try:
        check_config_files(args.files)
    except SynrecError as exc:
        print(f"synrec: {exc}", file=sys.stderr)
        return 1
    print(f"synrec: {' + '.join(['config/config.yaml', *args.files])}: valid")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
