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

import hashlib
import io
import json
import pickle
import tarfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import SynrecError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def _norm(name: str) -> str:
    """A class name for comparison: case, accents, spaces and punctuation ignored, every script's letters kept
    ('Café au lait' == 'cafe_au_lait'; '日本' != '中国')."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", name.casefold()) if ch.isalnum())


@dataclass
class Split:
    """One split of one dataset: images as file paths or as an in-memory uint8 array, and integer labels."""

    dataset: str
    split: str
    labels: np.ndarray
    paths: list[Path] | None = None
    array: np.ndarray | None = None  # (N, H, W, 3) uint8
    members: list[tuple[Path, int, int]] | None = None  # (tar file, data offset, size) per image: webdataset
    origin: str = ""  # the file or folder the split was read from, for messages
    _fingerprint: str | None = field(default=None, repr=False)
    _missing: list[Path] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, i: int) -> Image.Image:
        if self.array is not None:
            return Image.fromarray(self.array[i])
        if self.members is not None:
            return self._member_image(i)
        path = self.paths[i]
        try:
            with Image.open(path) as im:
                return im.convert("RGB")
        except FileNotFoundError:
            raise SynrecError(
                f"dataset '{self.dataset}': image {path} listed in {self.origin} does not exist"
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise SynrecError(f"dataset '{self.dataset}': image {path} is corrupt or not an image ({exc})") from None

    def _member_image(self, i: int) -> Image.Image:
        tar, offset, size = self.members[i]
        try:
            with open(tar, "rb") as f:
                f.seek(offset)
                data = f.read(size)
            with Image.open(io.BytesIO(data)) as im:
                return im.convert("RGB")
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise SynrecError(f"dataset '{self.dataset}': image {i} in {tar} is unreadable or not an image "
                              f"({exc})") from None

    def fingerprint(self) -> str:
        """Identity of the split's content: labels, and each image file's folder, name, size and modification time
        (the pixels themselves for in-memory splits): changes when images are added, removed, replaced or
        relabelled, not when the dataset folder moves."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(self.labels.astype(np.int64).tobytes())
            if self.array is not None:
                h.update(self.array.tobytes())
            elif self.members is not None:  # the samples' places, and each shard's name, size and time
                h.update(np.asarray([m[1:] for m in self.members], dtype=np.int64).tobytes())
                for p in sorted({m[0] for m in self.members}):
                    st = p.stat()
                    h.update(f"{p.parent.name}/{p.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
            else:
                self._missing = []
                for p in self.paths:
                    try:
                        st = p.stat()
                        size, mtime = st.st_size, st.st_mtime_ns
                    except FileNotFoundError:
                        size, mtime = -1, -1
                        self._missing.append(p)
                    h.update(f"{p.parent.name}/{p.name}:{size}:{mtime}\n".encode())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    def missing(self) -> list[Path]:
        """The listed image files that do not exist (found while fingerprinting: one stat per file, not two)."""
        self.fingerprint()
        return self._missing


def _under(folder: str, data_root: str | Path) -> Path:
    return Path(folder) if Path(folder).is_absolute() else Path(data_root) / folder


def on_disk(cfg: dict, data_root: str | Path) -> dict:
    """The config of the dataset as it is on disk: its own layout (``root``), or, when that folder is absent and
    the hub copy of key ``hub_webdataset`` is present, that copy (CLIP_benchmark's webdataset layout, its splits
    only, its class names compared with ``classnames``: the copy spells them as the dataset's own metadata does)."""
    hub = cfg.get("hub_webdataset")
    if not hub or _under(cfg["root"], data_root).is_dir() or not _under(hub["root"], data_root).is_dir():
        return cfg
    out = {k: v for k, v in cfg.items() if k not in ("disk_classnames", "zeroshot_test", "per_class_slice", "folders")}
    return {**out, "format": "webdataset", "root": hub["root"], "splits": {s: s for s in hub["splits"]},
            "_copy": hub["repo"]}


def dataset_folder(cfg: dict, data_root: str | Path) -> Path:
    """The folder the dataset is read from (its own ``root``, or its hub copy: :func:`on_disk`)."""
    return _under(on_disk(cfg, data_root)["root"], data_root)


def _dataset_root(cfg: dict, data_root: str | Path) -> Path:
    root = _under(cfg["root"], data_root)
    if not root.is_dir():
        raise SynrecError(
            f"dataset '{cfg['name']}': folder {root} does not exist (key 'root' in {cfg.get('_path', 'its config')}"
            f" and 'data_root' in the workflow config)"
        )
    return root


def _check_names(cfg: dict, disk_names: list[str], origin: str) -> None:
    expected = cfg.get("disk_classnames") or cfg["classnames"]
    if len(disk_names) != len(expected):
        raise SynrecError(
            f"dataset '{cfg['name']}': {origin} has {len(disk_names)} classes but {cfg.get('_path')} lists "
            f"{len(expected)}"
        )
    if not cfg.get("check_names", True):
        return
    for i, (d, e) in enumerate(zip(disk_names, expected)):
        if _norm(d) != _norm(e):
            raise SynrecError(
                f"dataset '{cfg['name']}': label {i} is '{d}' in {origin} but '{e}' in {cfg.get('_path')} "
                f"(classnames/disk_classnames must follow the dataset's label order)"
            )


def _check_label_range(cfg: dict, labels: np.ndarray, origin: str) -> None:
    n = len(cfg["classnames"])
    if len(labels) and (labels.min() < 0 or labels.max() >= n):
        raise SynrecError(
            f"dataset '{cfg['name']}': {origin} has label {int(labels.max())} but {cfg.get('_path')} lists "
            f"only {n} classes"
        )


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


def has_val_split(cfg: dict, val_split: str) -> bool:
    """A val split distinct from the test split (else few-shot validation is drawn from the train split)."""
    splits = cfg["splits"]
    return cfg["format"] != "cifar" and val_split in splits and splits[val_split] != splits.get(
        cfg["test_split"], cfg["test_split"])


def splits_in_use(cfg: dict, workflow: dict) -> list[str]:
    """The splits of dataset ``cfg`` that a workflow config's studies read: the test split (and the zero-shot test
    list) for the zero-shot study; the few-shot train (and val) splits where the few-shot study or Table 4 uses it."""
    fs = workflow["few_shot"]
    out = [cfg["test_split"], *([ZEROSHOT_TEST] if "zeroshot_test" in cfg else [])]
    if cfg["name"] in fs["datasets"] or cfg["name"] == workflow["table4"]["dataset"]:
        out += [fs["train_split"], *([fs["val_split"]] if has_val_split(cfg, fs["val_split"]) else [])]
    return list(dict.fromkeys(out))


def count_problem(cfg: dict, split: str, images: int) -> str | None:
    """The line saying that ``split`` holds ``images`` images where the YAML's ``counts`` says otherwise (else None)."""
    expected = (cfg.get("counts") or {}).get(split)
    if expected is None or expected == images:
        return None
    return (f"{split}: {images:,} images, but key 'counts' of {cfg.get('_path', 'its config')} says {expected:,} "
            f"({'a partial download or extraction' if images < expected else 'extra images'}; a deliberate subset: "
            "drop the split from 'counts')")


def check_split(cfg: dict, s: Split, samples: int = 8) -> tuple[str, list[str]]:
    """``(status, problems)`` of a split that reads: ``incomplete`` when a listed image does not exist or the image
    count differs from the YAML's ``counts``; ``unreadable`` when one of ``samples`` images, spread over the split,
    does not decode; else ``ok``."""
    problems = []
    absent = s.missing()
    if absent:
        problems.append(f"{s.split}: {len(absent)} of {len(s)} listed images do not exist, e.g. {absent[0]}")
    problems += [p for p in [count_problem(cfg, s.split, len(s))] if p]
    if problems:
        return "incomplete", problems
    for i in np.unique(np.linspace(0, len(s) - 1, min(samples, len(s))).astype(int)):
        try:
            s.image(int(i))
        except SynrecError as exc:
            return "unreadable", [f"{s.split}: {exc}"]
    return "ok", []


def check_dataset(cfg: dict, data_root: str | Path, splits: list[str], samples: int = 8) -> dict:
    """Whether a dataset is present, complete and readable: ``{"status": ok|missing|incomplete|unreadable,
    "counts": {split: images}, "problems": [one line each]}``. Complete: every split reads (split files, folders,
    class names and count as the YAML says), every image it lists exists, and it holds as many images as the YAML's
    ``counts`` says; readable: ``samples`` images per split, spread over it, decode (:func:`check_split`)."""
    out = {"status": "ok", "counts": {}, "problems": []}
    root = dataset_folder(cfg, data_root)
    if not root.is_dir():
        return {**out, "status": "missing", "problems": [f"folder {root} does not exist"]}
    rank = {"ok": 0, "unreadable": 1, "incomplete": 2}
    for split in splits:
        try:
            s = load_split(cfg, data_root, split)
        except SynrecError as exc:
            out["problems"].append(str(exc))
            out["status"] = "incomplete"
            continue
        out["counts"][split] = len(s)
        status, problems = check_split(cfg, s, samples)
        out["problems"] += problems
        out["status"] = max(out["status"], status, key=rank.get)
    return out


def how_to_get(cfg: dict, data_root: str | Path) -> str:
    """The command or manual step that puts dataset ``cfg`` under ``data_root``."""
    from .prepare import MANUAL, RECIPES

    name = cfg["name"]
    login = RECIPES[name].login if name in RECIPES else ""
    fix = (f"get {login}, then python -m synrec.prepare {name} --from <their folder> --data-root {data_root}" if login
           else f"python -m synrec.prepare {name} --data-root {data_root}" if name in RECIPES else
           f"get {MANUAL[name]}" if name in MANUAL else
           f"put it under {data_root} as {cfg.get('_path')} says (root, format, split file)")
    if cfg.get("hub_webdataset"):
        fix += f" (its test split alone: python -m synrec.prepare {name} --hub --data-root {data_root})"
    return fix


def _check_main(args) -> int:
    from .config import check_config_files, load_dataset_config

    workflow = check_config_files(args.configfile)
    names = args.names or workflow["datasets"]
    data_root = args.data_root or workflow["data_root"]
    bad = 0
    for name in names:
        try:
            cfg = load_dataset_config(name, args.config_dir)
        except SynrecError as exc:
            print(f"{name:<16} INVALID     {exc}")
            bad += 1
            continue
        res = check_dataset(cfg, data_root, splits_in_use(cfg, workflow))
        counts = ", ".join(f"{k} {v:,}" for k, v in res["counts"].items())
        print(f"{name:<16} {res['status'].upper():<11} {counts}")
        for problem in res["problems"]:
            print(f"{'':<16} {'':<11} - {problem}")
        if res["status"] != "ok":
            bad += 1
            print(f"{'':<16} {'':<11}   fix: {how_to_get(cfg, data_root)}; config/README.md 'Datasets on disk'")
    print(f"synrec: {len(names) - bad} of {len(names)} datasets present, complete and readable")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m synrec.datasets NAME``: print the dataset's own class names as a ``disk_classnames:`` block.
    ``python -m synrec.datasets --check [NAME...]``: for each configured (or named) dataset, say whether it is
    present, complete and readable, split by split, and what is wrong."""
    import argparse

    import yaml

    from .config import load_dataset_config

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("names", nargs="*", help="dataset names (config/datasets/<name>.yaml)")
    ap.add_argument("--check", action="store_true", help="check the datasets on disk (default: the configured ones)")
    ap.add_argument("--configfile", nargs="*", default=[], help="workflow config files, as given to snakemake")
    ap.add_argument("--config-dir", default="config/datasets")
    ap.add_argument("--data-root", default=None, help="default: the workflow config's data_root")
    ap.add_argument("--split", default=None)
    args = ap.parse_args(argv)
    try:
        if args.check:
            return _check_main(args)
        if len(args.names) != 1:
            ap.error("name one dataset (or use --check)")
        cfg = load_dataset_config(args.names[0], args.config_dir)
        names = disk_classnames(cfg, args.data_root or "data", args.split)
    except SynrecError as exc:
        raise SystemExit(f"synrec: {exc}") from None
    print(yaml.safe_dump({"disk_classnames": names}, sort_keys=False, allow_unicode=True), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
