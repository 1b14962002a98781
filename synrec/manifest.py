"""Content manifests: small JSON files that stand for a model's weights or a real dataset split in the DAG.

Snakemake dates a folder by its own modification time, so replacing a file inside a model or dataset folder would
rerun nothing. Instead, every rule that reads a model or a real split takes its manifest as input:

* ``{work_dir}/manifests/model/<role>/<key>.json``: the model's identity (:func:`synrec.models.model_identity`:
  names, and a sha256 of every file when it is a local folder). ``key`` (:func:`model_key`) is a hash of the
  config's model entry, so two models never share a file: a run (or a dry run) naming another model, then the first
  one again, leaves the first model's manifest, and so everything made from it, as it was;
* ``{work_dir}/manifests/data/<dataset>/<source>.json``: the split's fingerprint (:meth:`Split.fingerprint`: labels,
  and each image file's path, size and modification time; the pixels themselves for CIFAR's pickles).

A rule makes a manifest the first time. After that, each ``snakemake`` invocation :func:`refresh` es the existing
ones (in the main process, while the workflow is parsed): a manifest is rewritten, and so dated now, only when its
identity changed, so exactly the jobs downstream of changed content rerun. Feature stores record the same identity
and fingerprint, and every consumer checks them against the manifests (:func:`expect_features`).

What a run's refresh costs: a model's sha256 is recomputed only when one of its files changed size or modification
time (``stat``); a split's fingerprint only when one of the dataset's folders or non-image files (split files,
lists, pickles) changed modification time (``quick``), so a run lists the dataset's folders but stats no image. An
image overwritten in place under the same name, its folder untouched, is therefore not seen until the folder
changes (``touch`` the dataset's folder, or ``--forcerun`` the features).

The refresh is also where ``python -m synrec.datasets --check`` runs before every workflow run: a split read anew
(no manifest yet, or its quick signature changed) gets the full check (complete, image count as the YAML's
``counts`` says, 8 images decode); an unchanged one only the count check. A split (or a local model) that fails gets no
manifest, or has its manifest :func:`invalidate` d: what was made from it is then out of date, so a run that reads it
stops before submitting any job, even a run that would otherwise have nothing to do; when the content is back as it
was, so is its manifest, date included, and nothing reruns.

A manifest that the refresh creates for content already on disk (:func:`create`) is dated at that content's newest
modification time, so adopting manifests reruns nothing that is newer than the content it was made from.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .atomic import write_json
from .errors import SynrecError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def _folder_signature(root: Path) -> tuple[str, int]:
    """(digest, newest mtime_ns) of a dataset folder's directories and non-image files: cheap (one listing of
    every folder, a stat only of folders and metadata files) and changed by adding, removing or renaming images
    and by replacing split, list or pickle files."""
    h, newest, todo = hashlib.sha256(), root.stat().st_mtime_ns, [root]
    h.update(f"./:{newest}\n".encode())  # the folder's own date too: `touch <dataset folder>` makes a run look again
    while todo:
        d = todo.pop()
        with os.scandir(d) as it:
            entries = sorted(it, key=lambda e: e.name)
        for e in entries:
            if e.is_dir():
                st = e.stat()
                h.update(f"{os.path.relpath(e.path, root)}/:{st.st_mtime_ns}\n".encode())
                newest = max(newest, st.st_mtime_ns)
                todo.append(e.path)
            elif Path(e.name).suffix.lower() not in IMAGE_SUFFIXES:
                st = e.stat()
                h.update(f"{os.path.relpath(e.path, root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
                newest = max(newest, st.st_mtime_ns)
    return h.hexdigest()[:16], newest


def _stat_signature(path: Path) -> list:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [[str(p.relative_to(path)) if path.is_dir() else p.name, p.stat().st_size, p.stat().st_mtime_ns]
            for p in files]


def model_key(spec: dict) -> str:
    """12 hex digits that name a config's model entry (hub id or path, pretrained tag, ...): the file name of its
    manifest under its role."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def model_manifest(spec: dict, previous: dict | None = None) -> dict:
    """``{"identity": model_identity(spec), "stat": ...}``; the sha256 is taken from ``previous`` when no file's
    size or modification time changed since."""
    from .models import local_model_path, model_identity

    local = local_model_path(spec)
    if local is None:
        return {"identity": model_identity(spec)}
    if not Path(local).exists():
        raise SynrecError(f"model folder {local} does not exist (model '{spec['model']}' in the workflow config)")
    stat = _stat_signature(Path(local))
    if previous and previous.get("stat") == stat and previous.get("identity", {}).get("model") == spec["model"]:
        return {"identity": previous["identity"], "stat": stat}
    return {"identity": model_identity(spec), "stat": stat}


def data_manifest(cfg: dict, data_root: str | Path, split: str, previous: dict | None = None) -> dict:
    """``{"identity": {"dataset", "split", "fingerprint", "images"}, "quick": ...}`` of one real split; the
    fingerprint is taken from ``previous`` when the dataset folder's quick signature did not change. Content read
    anew gets the full check of ``python -m synrec.datasets --check`` (complete, counts as the YAML says, readable),
    content taken from ``previous`` the count check; a split that fails is a one-line :class:`SynrecError`, and
    no manifest is made of it."""
    from .datasets import _dataset_root, check_split, count_problem, load_split, on_disk

    quick = _folder_signature(_dataset_root(on_disk(cfg, data_root), data_root))[0]
    if previous and previous.get("quick") == quick and previous.get("identity", {}).get("split") == split:
        problem = count_problem(cfg, split, previous["identity"]["images"])  # the YAML's counts, edited since
        if problem:
            raise SynrecError(f"dataset '{cfg['name']}' split '{split}' is incomplete: {problem}")
        return {"identity": previous["identity"], "quick": quick}
    try:
        s = load_split(cfg, data_root, split)
    except SynrecError as exc:
        raise SynrecError(f"dataset '{cfg['name']}' split '{split}' is incomplete: {exc}") from None
    status, problems = check_split(cfg, s)  # python -m synrec.datasets --check, for content new or changed
    if problems:
        raise SynrecError(f"dataset '{cfg['name']}' split '{split}' is {status}: {problems[0]}")
    ident = {"dataset": cfg["name"], "split": split, "fingerprint": s.fingerprint(), "images": len(s)}
    return {"identity": ident, "quick": quick}


def model_mtime_ns(path: str | Path | None) -> int:
    """The newest modification time in a local model folder or file (0 for a hub model: no local content)."""
    if path is None:
        return 0
    path = Path(path)
    items = [path, *path.rglob("*")] if path.is_dir() else [path]
    return max(p.stat().st_mtime_ns for p in items)


def data_mtime_ns(cfg: dict, data_root: str | Path) -> int:
    """The newest modification time of a dataset folder's folders and metadata files."""
    from .datasets import _dataset_root, on_disk

    return _folder_signature(_dataset_root(on_disk(cfg, data_root), data_root))[1]


def read(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SynrecError(f"manifest {path} is unreadable ({exc}); delete it to rebuild it") from None


def write(path: str | Path, manifest: dict) -> bool:
    """Write ``manifest`` to ``path`` if its identity differs from the file's (then the file is dated now, and the
    jobs that read it rerun); other fields (a model's ``stat``) are updated keeping the file's date. Returns whether
    the identity changed."""
    path = Path(path)
    old = None
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = None
    if old == manifest:
        return False
    changed = old is None or old.get("identity") != manifest.get("identity")
    times = None if changed else (path.stat().st_atime_ns, path.stat().st_mtime_ns)
    write_json(path, manifest)
    if times:
        os.utime(path, ns=times)
    return changed


def create(path: str | Path, manifest: dict, mtime_ns: int) -> None:
    """Write a new manifest dated ``mtime_ns``: the newest modification time of the content it stands for."""
    write_json(path, manifest)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def refresh(path: str | Path, compute) -> bool:
    """Recompute an existing manifest (``compute(previous)``) and write it if it changed; a missing one is left to
    its rule. Returns whether the identity changed."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        previous = json.loads(path.read_text())
    except ValueError:
        previous = None
    was = previous.get("was") if previous else None  # content unavailable at an earlier run (invalidate)
    now = compute(previous if was is None else was)
    if was is not None and now.get("identity") == was.get("identity"):  # back as it was: so is the manifest's date
        write_json(path, now)
        os.utime(path, ns=(previous["was_mtime_ns"], previous["was_mtime_ns"]))
        return False
    return write(path, now)


def invalidate(path: str | Path, reason: str) -> bool:
    """The content behind the existing manifest ``path`` failed its check (a split's image gone, a model folder
    removed): the manifest now stands for 'unavailable', dated now, so every result made from the content is out of
    date and a run that reads it stops before submission. It keeps what it was: when the content is back as it was,
    :func:`refresh` restores it with its old date, and nothing reruns. Returns False if it was invalid already."""
    path = Path(path)
    try:
        old = read(path)
    except SynrecError:  # unreadable: nothing to come back to
        old = {}
    if "was" in old:
        return False
    write_json(path, {"identity": {"unavailable": reason}, "was": old, "was_mtime_ns": path.stat().st_mtime_ns})
    return True


def identity(path: str | Path) -> dict:
    return read(path)["identity"]


def expect_features(model: str | Path | None = None, data: str | Path | None = None,
                    images: str | None = None) -> dict:
    """The key parts a feature store must hold: the model identity of manifest ``model``, and the images'
    fingerprint: the real split's of manifest ``data``, or a synthetic store's ``images``."""
    out = {}
    if model is not None:
        out["model"] = identity(model)
    if data is not None:
        out["images"] = identity(data)["fingerprint"]
    if images is not None:
        out["images"] = images
    return out


def read_checked(path: str | Path, model: str | Path | None = None, data: str | Path | None = None,
                 images_store: str | Path | None = None):
    """``stores.read_features`` of a store that must have been computed from the model of manifest ``model`` and
    the images of manifest ``data`` (a real split) or of the synthetic store ``images_store``."""
    from .stores import ImageStore, read_features

    fp = ImageStore(images_store).fingerprint() if images_store is not None else None
    return read_features(path, expect=expect_features(model, data, fp))


def check_head(head: dict, path: str | Path, model: str | Path) -> dict:
    """The zero-shot head ``head`` (read from ``path``), checked to be built by the model of manifest ``model``."""
    if head.get("model") != identity(model):
        raise SynrecError(f"zero-shot head {path} was built by other weights than manifest {model} names now; "
                          "rerun snakemake to rebuild it")
    return head


def check_shots(split: dict, path: str | Path, train: str | Path, fingerprint: str | None = None) -> dict:
    """The few-shot split ``split`` (read from ``path``), checked to index the train split that manifest ``train``
    names (or, given, the train split of this ``fingerprint``: the one a job has just read)."""
    fingerprint = fingerprint or identity(train)["fingerprint"]
    if split.get("train_fingerprint") != fingerprint:
        raise SynrecError(f"few-shot split {path} indexes another train split than the one on disk now (manifest "
                          f"{train}: train_fingerprint differs); rerun snakemake to draw the shots again")
    return split


def check_unchanged(path: str | Path, now: dict) -> dict:
    """``now``, the identity a job finds on disk, checked against manifest ``path`` (made when the run started)."""
    if identity(path) != now:
        raise SynrecError(f"the content behind manifest {path} changed while this run was going on; rerun "
                          "snakemake (its manifest is then refreshed and the jobs that read it rerun)")
    return now


def check_split_unchanged(path: str | Path, split, folder: str | Path) -> None:
    """A real split a job has just read, checked against its manifest: images rewritten in place under the same
    names leave the dataset's folders as they were, so the run's refresh cannot see them; the job that reads every
    image does, and gives the command that makes the next run see them (``folder``: the dataset's folder)."""
    ident = identity(path)
    if ident["fingerprint"] != split.fingerprint() or ident["images"] != len(split):
        raise SynrecError(f"dataset '{split.dataset}' split '{split.split}' changed on disk since manifest {path} was "
                          f"made (images rewritten in place are not seen by the per-run check): run `touch {folder}` "
                          "and then snakemake again")
