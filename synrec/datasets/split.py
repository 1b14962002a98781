"""One split of one dataset (:class:`Split`: images as files, an array or tar members, with integer labels and a
content fingerprint), and where a dataset is read from (its own ``root``, or its hub copy)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import SynrecError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


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
