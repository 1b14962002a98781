"""Readers for the on-disk formats the paper's datasets come in, with the label order checked against the config.

Formats (``format:`` in ``config/datasets/<name>.yaml``):

* ``imagefolder`` - ``<root>/<split>/<class folder>/<image>``; label = position of the folder in ``folders`` (or in
  the sorted folder list, like torchvision's ImageFolder).
* ``cifar`` - the CIFAR-10 (``data_batch_*``, ``test_batch``, ``batches.meta``) or CIFAR-100 (``train``, ``test``,
  ``meta``) python pickle files in ``<root>``, as torchvision downloads them.
* ``coop_split`` - CoOp's ``split_zhou_<Name>.json`` (keys ``train``/``val``/``test``, each a list of
  ``[relative image path, label, classname]``) over the image folder ``<root>/<images>``.
* ``webdataset`` - CLIP_benchmark's webdataset layout (``clip_benchmark.webdataset_builder``, the test sets it
  publishes on the Hugging Face hub): ``<root>/classnames.txt`` (one name per label, in label order) and
  ``<root>/<split>/<i>.tar`` shards (their count in ``<split>/nshards.txt``), each sample a ``<key>.<webp|png|jpg>``
  image and a ``<key>.cls`` label (decimal text). Images are read straight out of the uncompressed tars.

Every reader checks the class count and, where the format names its classes, their order against the config's
``disk_classnames`` (or ``classnames``). A mismatch is a one-line :class:`SynrecError`, never a silent shuffle.
"""

from __future__ import annotations

import json
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ..errors import SynrecError
from .labels import _check_label_range, _check_names, _norm
from .split import IMAGE_EXTENSIONS, Split, _dataset_root, on_disk


def _read_imagefolder(cfg: dict, root: Path, split: str) -> Split:
    split_dir = root / cfg["splits"].get(split, split)
    if not split_dir.is_dir():
        raise SynrecError(f"dataset '{cfg['name']}': split folder {split_dir} does not exist")
    on_disk = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    folders = cfg.get("folders") or on_disk
    missing = [f for f in folders if f not in on_disk]
    if missing:
        raise SynrecError(f"dataset '{cfg['name']}': class folder {split_dir / missing[0]} does not exist")
    if cfg.get("folders") is None:
        _check_names(cfg, folders, str(split_dir))
    elif len(folders) != len(cfg["classnames"]):
        _check_names(cfg, folders, f"key 'folders' of {cfg.get('_path')}")
    start, stop = (cfg.get("per_class_slice") or {}).get(split, (None, None))
    paths, labels = [], []
    for label, folder in enumerate(folders):
        files = [p for p in sorted((split_dir / folder).iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS]
        for p in files[start:stop]:
            paths.append(p)
            labels.append(label)
    return Split(cfg["name"], split, np.asarray(labels, dtype=np.int64), paths=paths, origin=str(split_dir))


def _unpickle(path: Path, dataset: str) -> dict:
    if not path.is_file():
        raise SynrecError(f"dataset '{dataset}': CIFAR file {path} does not exist")
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except Exception as exc:  # truncated or foreign file
        raise SynrecError(f"dataset '{dataset}': {path} is not a CIFAR python pickle ({exc})") from None


def _cifar_layout(cfg: dict, root: Path, split: str):
    """``(meta file, label key, class-name key, data files)`` of a CIFAR-10 or CIFAR-100 folder."""
    name = cfg["name"]
    if split not in ("train", "test"):
        raise SynrecError(f"dataset '{name}': CIFAR has splits 'train' and 'test', not '{split}'")
    if (root / "batches.meta").exists():  # CIFAR-10
        files = [root / f"data_batch_{i}" for i in range(1, 6)] if split == "train" else [root / "test_batch"]
        return root / "batches.meta", "labels", "label_names", files
    if (root / "meta").exists():  # CIFAR-100
        return root / "meta", "fine_labels", "fine_label_names", [root / split]
    raise SynrecError(f"dataset '{name}': {root} holds neither batches.meta (CIFAR-10) nor meta (CIFAR-100)")


def _read_cifar(cfg: dict, root: Path, split: str) -> Split:
    name = cfg["name"]
    meta, label_key, names_key, files = _cifar_layout(cfg, root, split)
    _check_names(cfg, list(_unpickle(meta, name)[names_key]), str(meta))
    arrays, labels = [], []
    for f in files:
        d = _unpickle(f, name)
        data = np.asarray(d["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072:
            raise SynrecError(f"dataset '{name}': {f} has data of shape {data.shape}, expected (N, 3072)")
        arrays.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.extend(d[label_key])
    labels = np.asarray(labels, dtype=np.int64)
    _check_label_range(cfg, labels, str(files[0]))
    return Split(name, split, labels, array=np.ascontiguousarray(np.concatenate(arrays)), origin=str(files[0]))


def _read_coop_split(cfg: dict, root: Path, split: str) -> Split:
    name = cfg["name"]
    if "split_file" not in cfg:
        raise SynrecError(f"{cfg.get('_path')}: format 'coop_split' needs key 'split_file'")
    split_file = root / cfg["split_file"]
    if not split_file.is_file():
        raise SynrecError(f"dataset '{name}': split file {split_file} does not exist")
    try:
        table = json.loads(split_file.read_text())
    except json.JSONDecodeError as exc:
        raise SynrecError(f"dataset '{name}': {split_file} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    key = cfg["splits"].get(split, split)
    if key not in table:
        raise SynrecError(f"dataset '{name}': {split_file} has no key '{key}' (has {sorted(table)})")
    image_dir = root / cfg["images"]
    paths, labels, names = [], [], {}
    for row in table[key]:
        if not (isinstance(row, list) and len(row) == 3):
            raise SynrecError(
                f"dataset '{name}': {split_file} key '{key}' holds {row!r}, expected [path, label, classname]"
            )
        rel, label, cname = row
        paths.append(image_dir / rel)
        labels.append(int(label))
        names.setdefault(int(label), cname)
    labels = np.asarray(labels, dtype=np.int64)
    _check_label_range(cfg, labels, str(split_file))
    expected = cfg.get("disk_classnames") or cfg["classnames"]
    if len(names) != len(expected):
        raise SynrecError(
            f"dataset '{name}': {split_file} key '{key}' has {len(names)} classes but {cfg.get('_path')} lists "
            f"{len(expected)}"
        )
    for label, cname in sorted(names.items()) if cfg.get("check_names", True) else ():
        if _norm(cname) != _norm(expected[label]):
            raise SynrecError(
                f"dataset '{name}': label {label} is '{cname}' in {split_file} but '{expected[label]}' in "
                f"{cfg.get('_path')} (classnames/disk_classnames must follow the dataset's label order)"
            )
    return Split(name, split, labels, paths=paths, origin=str(split_file))


WDS_IMAGE_EXTENSIONS = ("webp", "png", "jpg", "jpeg")


def _webdataset_classnames(cfg: dict, root: Path) -> tuple[list[str], Path]:
    names_file = root / "classnames.txt"
    if not names_file.is_file():
        raise SynrecError(f"dataset '{cfg['name']}': {names_file} does not exist (a webdataset folder holds "
                          "classnames.txt beside its split folders)")
    return [line.strip() for line in names_file.read_text().splitlines() if line.strip()], names_file


def _webdataset_shards(cfg: dict, split_dir: Path) -> list[Path]:
    count = split_dir / "nshards.txt"
    if count.is_file():
        shards = [split_dir / f"{i}.tar" for i in range(int(count.read_text().split()[0]))]
        missing = [p for p in shards if not p.is_file()]
        if missing:
            raise SynrecError(f"dataset '{cfg['name']}': shard {missing[0]} does not exist ({count} says "
                              f"{len(shards)} shards)")
        return shards
    shards = sorted(split_dir.glob("*.tar"), key=lambda p: (not p.stem.isdigit(), int(p.stem) if p.stem.isdigit()
                                                              else 0, p.name))
    if not shards:
        raise SynrecError(f"dataset '{cfg['name']}': no .tar shards in {split_dir}")
    return shards


def _read_webdataset(cfg: dict, root: Path, split: str) -> Split:
    name = cfg["name"]
    split_dir = root / cfg["splits"].get(split, split)
    if not split_dir.is_dir():
        raise SynrecError(f"dataset '{name}': split folder {split_dir} does not exist")
    disk_names, names_file = _webdataset_classnames(cfg, root)
    _check_names(cfg, disk_names, str(names_file))
    members, labels = [], []
    for shard in _webdataset_shards(cfg, split_dir):
        try:
            with tarfile.open(shard, "r:") as tar:
                samples: dict[str, dict[str, tarfile.TarInfo]] = {}
                for m in tar:
                    if m.isfile():
                        folder, _, base = m.name.rpartition("/")
                        key, _, ext = base.partition(".")  # webdataset: the key ends at the name's first dot
                        samples.setdefault(f"{folder}/{key}", {})[ext.lower()] = m
                for key, parts in samples.items():
                    image = next((parts[e] for e in WDS_IMAGE_EXTENSIONS if e in parts), None)
                    if image is None or "cls" not in parts:
                        raise SynrecError(f"dataset '{name}': sample '{key.lstrip('/')}' in {shard} lacks an image "
                                          f"({'/'.join(WDS_IMAGE_EXTENSIONS)}) or a .cls label")
                    members.append((shard, image.offset_data, image.size))
                    labels.append(int(tar.extractfile(parts["cls"]).read().decode().strip()))
        except (tarfile.TarError, OSError, ValueError) as exc:
            raise SynrecError(f"dataset '{name}': shard {shard} is unreadable ({exc})") from None
    labels = np.asarray(labels, dtype=np.int64)
    _check_label_range(cfg, labels, str(split_dir))
    return Split(name, split, labels, members=members, origin=str(split_dir))


READERS = {"imagefolder": _read_imagefolder, "cifar": _read_cifar, "coop_split": _read_coop_split,
           "webdataset": _read_webdataset}


#: the split name under which a dataset's ``zeroshot_test`` list is read
ZEROSHOT_TEST = "zeroshot_test"


def _read_list_file(cfg: dict, root: Path, spec: dict) -> Split:
    """``<class folder>/<image id>`` lines (Food-101's meta/test.txt); labels by this config's class order."""
    name, list_file = cfg["name"], root / spec["list"]
    if not list_file.is_file():
        raise SynrecError(f"dataset '{name}': list file {list_file} does not exist (key 'zeroshot_test.list' in "
                          f"{cfg.get('_path')})")
    expected = cfg.get("disk_classnames") or cfg["classnames"]
    label_of = {_norm(c): i for i, c in enumerate(expected)}
    paths, labels = [], []
    for n, line in enumerate(list_file.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        folder = line.split("/")[0]
        if _norm(folder) not in label_of:
            raise SynrecError(f"dataset '{name}': {list_file} line {n}: class folder '{folder}' is not a class of "
                              f"{cfg.get('_path')}")
        paths.append(root / spec["images"] / f"{line}{spec['extension']}")
        labels.append(label_of[_norm(folder)])
    labels = np.asarray(labels, dtype=np.int64)
    if len(set(labels.tolist())) != len(expected):
        raise SynrecError(f"dataset '{name}': {list_file} has {len(set(labels.tolist()))} classes but "
                          f"{cfg.get('_path')} lists {len(expected)}")
    return Split(name, ZEROSHOT_TEST, labels, paths=paths, origin=str(list_file))


def load_split(cfg: dict, data_root: str | Path, split: str | None = None) -> Split:
    """Read one split (default: the dataset's ``test_split``) of the dataset described by ``cfg``; ``zeroshot_test``
    is the zero-shot study's own test list where the config has one, else the ``test_split``."""
    split = split or cfg["test_split"]
    cfg = on_disk(cfg, data_root)
    if split == ZEROSHOT_TEST and "zeroshot_test" not in cfg:
        split = cfg["test_split"]
    if "_copy" in cfg and split not in cfg["splits"]:
        raise SynrecError(f"dataset '{cfg['name']}': its hub copy ({cfg['_copy']}) under {cfg['root']} holds only "
                          f"{'/'.join(cfg['splits'])}; split '{split}' needs the dataset in its own layout (root "
                          f"in {cfg.get('_path')}; python -m synrec.prepare {cfg['name']})")
    root = _dataset_root(cfg, data_root)
    if split == ZEROSHOT_TEST:
        out = _read_list_file(cfg, root, cfg["zeroshot_test"])
    else:
        out = READERS[cfg["format"]](cfg, root, split)
    if len(out) == 0:
        raise SynrecError(f"dataset '{cfg['name']}': split '{split}' in {out.origin} holds no images")
    return out


def disk_classnames(cfg: dict, data_root: str | Path, split: str | None = None) -> list[str]:
    """The class names as the dataset's own files spell them, in label order (for ``disk_classnames``)."""
    split = split or cfg["test_split"]
    cfg = on_disk(cfg, data_root)
    root = _dataset_root(cfg, data_root)
    if cfg["format"] == "cifar":
        meta, _, names_key, _ = _cifar_layout(cfg, root, split)
        return [str(n) for n in _unpickle(meta, cfg["name"])[names_key]]
    if cfg["format"] == "webdataset":
        return _webdataset_classnames(cfg, root)[0]
    if cfg["format"] == "coop_split":
        names = {}
        for row in json.loads((root / cfg["split_file"]).read_text())[cfg["splits"].get(split, split)]:
            names.setdefault(int(row[1]), row[2])
        return [names[k] for k in sorted(names)]
    split_dir = root / cfg["splits"].get(split, split)
    return cfg.get("folders") or sorted(p.name for p in split_dir.iterdir() if p.is_dir())
