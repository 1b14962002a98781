"""What a workflow run does with the content manifests (:mod:`synrec.manifest`) before any job starts.

* :func:`refresh_all` - adopt the content already on disk (a missing manifest of a present model or split is
  created, dated at its content's newest time, so nothing made since reruns), then recompute every manifest and
  rewrite, and so re-date, those whose content changed. A split or model that fails its check gets no manifest, or
  has it invalidated (:func:`synrec.manifest.invalidate`), and comes back as a problem line.
* :func:`missing_content` - the dataset and model folders that the DAG's manifest jobs would find missing, one line
  each with what to do (the fetch command from :func:`synrec.prepare.how_to_get`).
* :func:`stop_message` - the one message that stops a run before submission: the missing content, and the failed
  splits that a job of the DAG reads.
* :func:`write_manifest` - the body of the ``model_manifest`` and ``data_manifest`` rules.

Snakemake's side (``rules/common.smk``) only hands these the config's models, datasets and path layout.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from . import manifest
from .datasets import ZEROSHOT_TEST, dataset_folder
from .errors import SynrecError
from .models import check_model, local_model_path


def generator_model(spec: dict) -> dict:
    """A ``generators`` entry's model spec (its generation settings, title and family are not part of the model)."""
    return {k: v for k, v in spec.items() if k not in ("generation", "title", "family")}


def model_roles(models: dict, generators: dict | None = None) -> dict:
    """``{role: model spec}`` of a config's ``models`` section (clip-<backbone>, text_to_image, word_to_sentence,
    captioner) and of its ``generators`` (text_to_image@<name>)."""
    return {
        **{f"clip-{b}": spec for b, spec in models["clip"].items()},
        "text_to_image": models["text_to_image"],
        **{f"text_to_image@{name}": generator_model(spec) for name, spec in (generators or {}).items()},
        "word_to_sentence": models["word_to_sentence"],
        **({"captioner": models["captioner"]} if models.get("captioner") else {}),
    }


def source_split(cfg: dict, source: str, train_split: str, val_split: str) -> str:
    """The split name a real feature source reads (train/val: the few-shot study's splits; zs-test: the zero-shot
    test list)."""
    return {"train": train_split, "val": val_split, "zs-test": ZEROSHOT_TEST}.get(source, cfg["test_split"])


def write_manifest(out, log, compute) -> None:
    """Rules model_manifest / data_manifest: a new manifest, dated now (the jobs downstream of it rerun); a
    :class:`SynrecError` becomes Snakemake's one-line WorkflowError, also written to the job's log."""
    from snakemake.exceptions import WorkflowError

    from .atomic import write_json

    try:
        m = compute()
    except SynrecError as exc:
        Path(log).write_text(f"error: {exc}\n")
        raise WorkflowError(f"synrec: {exc}") from None
    write_json(out, m)
    Path(log).write_text(f"{out}: {json.dumps(m['identity'])}\n")


def _refresh(path: Path, compute, problems: dict, create: bool = False) -> None:
    try:
        if create:
            compute(None)
        elif manifest.refresh(path, compute):
            print(f"synrec: content changed: {path} (the jobs that read it rerun)", file=sys.stderr)
    except (SynrecError, OSError) as exc:
        problems[str(path)] = str(exc)
        if not create and path.is_file():
            manifest.invalidate(path, str(exc))
            print(f"synrec: content unavailable: {path}: {exc} (what was made from it is out of date until it is back "
                  "as it was; a run that reads it stops)", file=sys.stderr)


def model_manifest_path(manifests: str | Path, role: str, spec: dict) -> Path:
    """``<manifests>/model/<role>/<key>.json``: one file per model entry (:func:`synrec.manifest.model_key`)."""
    return Path(manifests) / "model" / role / f"{manifest.model_key(spec)}.json"


def spec_of(roles: dict, role: str, key: str) -> dict:
    """The configured model entry of ``role`` whose key is ``key`` (the manifest rule's wildcards)."""
    spec = roles[role]
    if manifest.model_key(spec) != key:
        raise SynrecError(f"manifest model/{role}/{key}.json is not that of the model the config names for {role} now "
                          f"({spec}); ask for results, not for another model's manifest")
    return spec


def dry_run_requested(argv: list) -> bool:
    """Whether ``argv`` (``sys.argv``) is a snakemake command line that asks for a dry run (-n, --dry-run, -np,
    ...), parsed by Snakemake's own parser: the workflow is parsed before Snakemake's API says so. Another program
    (the API called from Python) is not a dry run."""
    import contextlib
    import io

    from snakemake.cli import get_argument_parser

    if not argv or Path(argv[0]).name not in ("snakemake", "__main__.py") or "snakemake" not in argv[0]:
        return False
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return bool(get_argument_parser().parse_known_args(argv[1:])[0].dryrun)
    except SystemExit:
        return False


def refresh_all(manifests: str | Path, roles: dict, datasets: dict, sources: dict, data_root: str | Path,
                split_of, dataset_config, dry_run: bool = False) -> dict:
    """Adopt and refresh the manifests under ``manifests`` (:func:`model_manifest_path` of the configured models,
    ``data/<dataset>/<source>.json``); the manifests of models the config does not name now are left as they are.
    ``dry_run`` (``snakemake -n``): create no manifest (a model or split met for the first time, say one a trial
    config names, leaves no file behind), but record content that really changed, as a real run would at the same
    point, so that the dry run's plan lists the jobs a real run will rerun.

    ``roles``: ``{role: spec}`` (:func:`model_roles`); ``datasets``: the configured ``{name: cfg}``; ``sources``:
    ``{name: [real source, ...]}`` the studies read; ``split_of(name, source)``: the split a source reads;
    ``dataset_config(name)``: the config of any dataset a manifest exists for (the demo's, CIFAR transfer's).
    Returns ``{manifest path: one line}`` for the splits that failed their check."""
    manifests, problems = Path(manifests), {}

    def create(path, made, mtime_ns):  # a new manifest dated at its content's time; in a dry run only checked
        if not dry_run:
            manifest.create(path, made, mtime_ns())

    def checked(role, spec, prev=None):  # a name its library cannot load here stops the run before any job
        check_model(role, spec)
        return manifest.model_manifest(spec, prev)

    for role, spec in roles.items():
        path, local = model_manifest_path(manifests, role, spec), local_model_path(spec)
        if not path.exists() and (local is None or Path(local).exists()):
            _refresh(path, lambda prev, r=role, s=spec, p=path, at=local: create(
                p, checked(r, s), lambda: manifest.model_mtime_ns(at)), problems, create=True)
        else:
            _refresh(path, lambda prev, r=role, s=spec: checked(r, s, prev), problems)
    for name, cfg in datasets.items():
        if not dataset_folder(cfg, data_root).is_dir():
            continue
        for source in sources[name]:
            path = manifests / "data" / name / f"{source}.json"
            if not path.exists():  # adopted only when it passes the check; else the problem stops the run
                _refresh(path, lambda prev, c=cfg, p=path, s=split_of(name, source): create(
                    p, manifest.data_manifest(c, data_root, s), lambda: manifest.data_mtime_ns(c, data_root)),
                    problems, create=True)
    for path in sorted(manifests.glob("data/*/*.json")):
        name, source = path.parent.name, path.stem
        _refresh(path, lambda prev, d=name, s=source: manifest.data_manifest(
            dataset_config(d), data_root, split_of(d, s), prev), problems)
    if dry_run:  # no stop before submission in a dry run: say what would stop a real one
        for path, line in problems.items():
            print(f"synrec: a real run would stop on {path}: {line}", file=sys.stderr)
    return problems


def missing_content(jobs, roles: dict, data_root: str | Path, dataset_config, made_by_a_rule, how_to_get) -> list:
    """What the manifest jobs among ``jobs`` (Snakemake jobs: ``.rule.name``, ``.wildcards``) would find missing:
    the dataset and model folders that are not on disk and that no rule makes (``made_by_a_rule(kind, name)``,
    kind ``dataset`` or ``model``), one line each, saying what to do."""
    lines = {}
    for job in jobs:
        name, w = job.rule.name, job.wildcards
        if name == "data_manifest" and not made_by_a_rule("dataset", w.dataset):
            cfg = dataset_config(w.dataset)
            folder = dataset_folder(cfg, data_root)
            if not folder.is_dir():
                lines[w.dataset] = (
                    f"dataset '{w.dataset}': folder {folder} does not exist (key 'root' in "
                    f"{cfg.get('_path', 'its config')} under data_root '{data_root}'): "
                    f"{how_to_get(cfg, data_root)}; or leave it out with --config datasets=[...]"
                )
        elif name == "model_manifest" and not made_by_a_rule("model", w.role):
            local = local_model_path(roles[w.role])
            if local and not Path(local).exists():
                lines[w.role] = (
                    f"model '{w.role}': {local} does not exist (models: in the config): copy the weights there, "
                    "or name the model by its hub id and pretrained tag"
                )
    return list(lines.values())


def stop_message(missing: list, problems: dict, read_paths) -> str | None:
    """The message that stops a run before submission, or None: every missing input, and every failed split
    (``problems``, from :func:`refresh_all`) whose manifest is among ``read_paths`` (what the DAG's jobs read, and
    what the jobs to run make), paths compared normalised."""
    read = {os.path.normpath(p) for p in read_paths}
    lines = [*missing, *(line for path, line in problems.items() if os.path.normpath(path) in read)]
    if not lines:
        return None
    listing = "\n".join(f"  - {m}" for m in lines)
    return f"synrec: {len(lines)} input(s) missing or incomplete, nothing was submitted:\n{listing}"
