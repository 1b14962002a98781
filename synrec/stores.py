"""HDF5 stores: synthetic image shards, merged image stores, and cached feature stores.

Image store (one per (dataset, strategy); shards have the same layout for a subset of classes)::

    images   vlen uint8   PNG-encoded bytes, one row per image (lossless, like the paper's PNG files)
    labels   int64        class index in the dataset's label order
    prompts  str          the exact prompt the image was generated from
    seeds    int64        the seed of that image's initial noise
    flagged  uint8        1 where the pipeline's safety checker blanked the image (always 0 without a checker)
    attrs    dataset, strategy, classnames (JSON), generation (JSON of the settings), fingerprint

Feature store (one per (dataset, source, backbone))::

    features float32 (N, D)   un-normalised CLIP image embeddings
    labels   int64   (N,)
    attrs    key (hash of everything that changes the features), key_parts (JSON)

``fingerprint`` is a content hash of an image store; a feature store's ``key`` includes the fingerprint of its
images, the model identity and the preprocessing, and :func:`read_features` refuses a store whose key differs from
the expected one - the paper code's cache (keyed by dataset class name only) silently reused stale features.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

from .atomic import atomic_path
from .errors import SynrecError

_VLEN_U8 = h5py.vlen_dtype(np.dtype("uint8"))
_STR = h5py.string_dtype("utf-8")
_COLUMNS = (("images", _VLEN_U8), ("labels", "int64"), ("prompts", _STR), ("seeds", "int64"), ("flagged", "uint8"))


def _write_vlen(ds, start: int, rows) -> None:
    """Write byte rows to a vlen dataset, one row at a time: h5py turns an object array whose rows all have the
    same length (e.g. a batch of blanked, all-black images) into a 2-D array it cannot write into (N,)."""
    for i, r in enumerate(rows):
        ds[start + i] = r


def encode_png(img: np.ndarray) -> np.ndarray:
    return encode_image(img, "png")


def encode_image(img: np.ndarray, fmt: str = "png", jpeg_quality: int = 95) -> np.ndarray:
    """PNG (lossless, the default) or JPEG (lossy; about twice as fast to decode and augment per CPU core, and
    decodable on a GPU by ``torchvision.io.decode_jpeg``: see bench/decode_throughput.py)."""
    buf = io.BytesIO()
    if fmt == "png":
        Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    elif fmt == "jpeg":
        Image.fromarray(img).save(buf, format="JPEG", quality=jpeg_quality)
    else:
        raise ValueError(f"image format {fmt!r}: expected png or jpeg")
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def decode_png(data: np.ndarray) -> Image.Image:
    """Decode a stored image row (PNG or JPEG: PIL reads the format from the bytes)."""
    return Image.open(io.BytesIO(data.tobytes())).convert("RGB")


class ShardWriter:
    """Append generated images to a shard, resumably.

    Rows go to ``<path>.partial.h5`` and are flushed after every batch; only then does the attribute ``n_committed``
    move on. A rerun with the same settings continues from the committed rows that read back (``n_done``): rows of
    a batch whose write failed (a full disk, a kill) are cut off, and a partial file that cannot be opened, or whose
    rows do not decode, is started again (with a line saying so). :meth:`finish` renames the partial file onto
    ``path``.
    """

    def __init__(self, path: str | Path, settings: dict, image_format: str = "png", jpeg_quality: int = 95):
        self.path = Path(path)
        self.encode = {"fmt": image_format, "jpeg_quality": jpeg_quality}
        self.partial = self.path.with_name(self.path.name + ".partial.h5")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        blob = json.dumps(settings, sort_keys=True)
        if self.partial.exists() and not self._resumable(blob):
            self.partial.unlink()
        fresh = not self.partial.exists()
        self.f = h5py.File(self.partial, "a")
        if fresh:
            self.f.attrs["settings"] = blob
            for name, dtype in _COLUMNS:
                self.f.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(64,))
            self.f.attrs["n_committed"] = 0
        else:  # cut what a failed batch left beyond the committed rows
            n = int(self.f.attrs["n_committed"])
            for name, _ in _COLUMNS:
                self.f[name].resize((n,))
        for k, v in settings.items():
            self.f.attrs[k] = json.dumps(v) if isinstance(v, (dict, list)) else v

    def _resumable(self, blob: str) -> bool:
        """Whether the partial file has these settings and its committed rows all read back."""
        try:
            with h5py.File(self.partial, "r") as f:
                if f.attrs.get("settings") != blob:
                    return False
                n = int(f.attrs.get("n_committed", -1))
                if n < 0 or any(f[name].shape[0] < n for name, _ in _COLUMNS):
                    raise OSError("no committed-row count")
                for a in range(0, n, 64):
                    for row in f["images"][a : min(n, a + 64)]:
                        decode_png(row)
                return True
        except Exception as exc:  # noqa: BLE001  (h5py OSError, PIL's errors: anything means unreadable)
            print(f"{self.partial}: unreadable ({str(exc).splitlines()[0][:120]}); generating this shard again",
                  flush=True)
            return False

    @property
    def n_done(self) -> int:
        return int(self.f["labels"].shape[0])

    def append(self, images: list[np.ndarray], labels, prompts, seeds, flagged=None, regenerated: int = 0) -> None:
        """Add a batch; ``regenerated``: how many of its images the safety checker made us generate again."""
        n0, k = self.n_done, len(images)
        if regenerated:
            self.f.attrs["n_regenerated"] = int(self.f.attrs.get("n_regenerated", 0)) + int(regenerated)
        for name, _ in _COLUMNS:
            self.f[name].resize((n0 + k,))
        _write_vlen(self.f["images"], n0, [encode_image(im, **self.encode) for im in images])
        self.f["labels"][n0:] = np.asarray(labels, dtype=np.int64)
        self.f["prompts"][n0:] = list(prompts)
        self.f["seeds"][n0:] = np.asarray(seeds, dtype=np.int64)
        self.f["flagged"][n0:] = np.zeros(k, np.uint8) if flagged is None else np.asarray(flagged, dtype=np.uint8)
        self.f.flush()
        self.f.attrs["n_committed"] = n0 + k  # only after the batch's rows are on disk
        self.f.flush()

    def finish(self) -> Path:
        self.f.close()
        os.replace(self.partial, self.path)
        return self.path

    def close(self) -> None:
        if self.f.id.valid:
            self.f.close()


def _fingerprint_rows(f: h5py.File, block: int = 1024) -> str:
    h = hashlib.sha256()
    h.update(f["labels"][:].tobytes())
    h.update(f["seeds"][:].tobytes())
    n = f["labels"].shape[0]
    for a in range(0, n, block):
        for row in f["images"][a : a + block]:
            h.update(row.tobytes())
    return h.hexdigest()[:16]


#: shard attributes every shard of a store must share, and the store keeps (RG: its strength and noise level)
_SHARED_ATTRS = ("generation", "model", "strength", "start_timestep", "noise_std", "noise_std_paper", "sigma",
                 "sigma_paper", "datadream", "captioner")


def merge_shards(shards: list[str | Path], out: str | Path, attrs: dict, block: int = 1024) -> str:
    """Concatenate shards (in the order given) into one image store, streaming ``block`` rows at a time so a
    1,000-class store never sits in memory; returns the store's fingerprint. Images the safety checker blanked
    (``flagged``) are left out; the store's attributes ``n_flagged_dropped`` and ``n_regenerated`` count them."""
    try:
        return _merge_shards(shards, out, attrs, block)
    except OSError as exc:  # h5py's read errors do not say which file
        bad = next((s for s in shards if not _readable(s)), None)
        if bad is None:
            raise
        raise SynrecError(f"shard {bad} is unreadable ({str(exc).splitlines()[0][:120]}); delete it and rerun to "
                          "generate it again") from None


def _readable(path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            for a in range(0, f["images"].shape[0], 256):
                f["images"][a : a + 256]
        return True
    except OSError:
        return False


def _merge_shards(shards, out, attrs: dict, block: int) -> str:
    kept, shared, regenerated = [], None, 0
    for s in shards:
        with h5py.File(s, "r") as src:
            total = int(src["labels"].shape[0])
            rows = np.flatnonzero(src["flagged"][:] == 0) if "flagged" in src else np.arange(total)
            these = {k: src.attrs[k] for k in _SHARED_ATTRS if k in src.attrs}
            regenerated += int(src.attrs.get("n_regenerated", 0))
        if shared is not None and these != shared:
            raise SynrecError(f"shard {s} was generated with other settings than {shards[0]}: {these} vs {shared}")
        shared = these
        kept.append((rows, total))
    n = sum(len(k) for k, _ in kept)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as dst:
        chunks = (min(64, n),) if n else None
        for name, dtype in _COLUMNS:
            dst.create_dataset(name, shape=(n,), dtype=dtype, chunks=chunks)
        pos = 0
        for s, (rows, _) in zip(shards, kept):
            with h5py.File(s, "r") as src:
                for a in range(0, len(rows), block):
                    idx = rows[a : a + block]
                    lo, hi = int(idx[0]), int(idx[-1]) + 1  # read the span once, pick the kept rows
                    pick = idx - lo
                    _write_vlen(dst["images"], pos, list(src["images"][lo:hi][pick]))
                    for name in ("labels", "prompts", "seeds", "flagged"):
                        dst[name][pos : pos + len(idx)] = src[name][lo:hi][pick]
                    pos += len(idx)
        dropped = sum(total - len(rows) for rows, total in kept)
        for k, v in {**(shared or {}), **attrs, "n_flagged_dropped": dropped, "n_regenerated": regenerated}.items():
            dst.attrs[k] = json.dumps(v) if isinstance(v, (dict, list)) else v  # generation settings travel along
        dst.attrs["fingerprint"] = fp = _fingerprint_rows(dst)
    return fp


class ImageStore:
    """Read access to an image store (or shard) by index; opens lazily so it survives DataLoader forking."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise SynrecError(f"image store {self.path} does not exist")
        try:
            with h5py.File(self.path, "r") as f:
                if "images" not in f or "labels" not in f:
                    raise SynrecError(f"image store {self.path} lacks the 'images'/'labels' datasets")
                self.labels = f["labels"][:]
                self.flagged = f["flagged"][:] if "flagged" in f else np.zeros(len(self.labels), np.uint8)
                self.attrs = {k: f.attrs[k] for k in f.attrs}
        except OSError as exc:
            raise self._unreadable(exc) from None
        self._f = None

    def _unreadable(self, exc: Exception, what: str = "") -> SynrecError:
        return SynrecError(f"image store {self.path}{what} is unreadable, truncated or corrupt "
                           f"({str(exc).splitlines()[0][:120]}); delete it and rerun snakemake to rebuild it")

    def __len__(self) -> int:
        return len(self.labels)

    def fingerprint(self) -> str:
        fp = self.attrs.get("fingerprint")
        if fp is None:
            try:
                with h5py.File(self.path, "r") as f:
                    fp = _fingerprint_rows(f)
            except OSError as exc:
                raise self._unreadable(exc) from None
        return str(fp)

    def image(self, i: int) -> Image.Image:
        try:
            if self._f is None:  # opened on first use, so each DataLoader worker gets its own handle
                self._f = h5py.File(self.path, "r")
                self._images = self._f["images"]  # looked up once: a name lookup per image costs more than the read
            return decode_png(self._images[i])
        except OSError as exc:  # h5py's read errors, and PIL's for bytes that are no image
            raise self._unreadable(exc, f" (image {i})") from None

    def prompts(self) -> list[str]:
        with h5py.File(self.path, "r") as f:
            return [p.decode() if isinstance(p, bytes) else p for p in f["prompts"][:]]


def safety_counts(store: str | Path) -> dict:
    """What the safety checker did to an image store: its mode, the blanked images left out, those regenerated."""
    attrs = ImageStore(store).attrs
    gen = json.loads(attrs.get("generation", "{}"))
    return {"safety_checker": gen.get("safety_checker", "off"),
            "flagged_dropped": int(attrs.get("n_flagged_dropped", 0)),
            "regenerated": int(attrs.get("n_regenerated", 0))}


def open_synthetic(store: str | Path, keep: str | Path | None = None) -> tuple[ImageStore, np.ndarray]:
    """An image store and the indices to train on: all its images, or those in a CLIP-filter keep-list."""
    images = ImageStore(store)
    if keep is None:
        return images, np.arange(len(images))
    with h5py.File(keep, "r") as f:
        return images, f["keep"][:]


def write_features(path: str | Path, features: np.ndarray, labels: np.ndarray, key: str, key_parts: dict) -> None:
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("features", data=features.astype(np.float32))
        f.create_dataset("labels", data=labels.astype(np.int64))
        f.attrs["key"] = key
        f.attrs["key_parts"] = json.dumps(key_parts, sort_keys=True)


def write_views(path: str | Path, views: np.ndarray, labels: np.ndarray, indices, train_fingerprint: str) -> None:
    """Tip-Adapter's cache: features ``(passes, N, D)`` of augmented views of the shots ``indices`` of a train split."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("views", data=views.astype(np.float32))
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
        f.create_dataset("indices", data=np.asarray(indices, dtype=np.int64))
        f.attrs["train_fingerprint"] = train_fingerprint


def read_views(path: str | Path, expected_indices) -> np.ndarray:
    """The views of :func:`write_views`; raises if they are views of other shots than ``expected_indices``."""
    with h5py.File(path, "r") as f:
        if f["indices"][:].tolist() != list(expected_indices):
            raise SynrecError(f"{path} holds views of other shots than expected; delete it to recompute")
        return f["views"][:]


def read_features(path: str | Path, expected_key: str | None = None,
                  expect: dict | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(features, labels, key_parts)``; raises if the store was computed for something else: another key, or key
    parts other than ``expect`` (``synrec.manifest.expect_features``: the model and images the manifests name)."""
    path = Path(path)
    if not path.is_file():
        raise SynrecError(f"feature store {path} does not exist")
    try:
        with h5py.File(path, "r") as f:
            key = f.attrs.get("key")
            parts = json.loads(f.attrs.get("key_parts", "{}"))
            feats, labels = f["features"][:], f["labels"][:]
    except (OSError, KeyError) as exc:
        raise SynrecError(f"feature store {path} is unreadable ({str(exc).splitlines()[0]}); delete it to "
                          "recompute") from None
    if expected_key is not None and key != expected_key:
        raise SynrecError(
            f"feature store {path} was computed for another model/images/preprocessing (key {key}, expected "
            f"{expected_key}); delete it to recompute"
        )
    for name, want in (expect or {}).items():
        if parts.get(name) != want:
            raise SynrecError(
                f"feature store {path} was computed from other {'weights' if name == 'model' else name} than the "
                f"manifests name now ({name}: {json.dumps(parts.get(name), sort_keys=True)[:120]}, expected "
                f"{json.dumps(want, sort_keys=True)[:120]}); rerun snakemake to recompute it"
            )
    return feats, labels, parts
