"""CLIP image features (computed once, cached in an HDF5 feature store) and the zero-shot text classifier.

The cache key of a feature store hashes everything that changes the features: the model identity (name, pretrained
tag, and a content hash of local weights), the preprocessing pipeline, and the content fingerprint of the images.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .config import stable_hash
from .datasets import REAL_SOURCES  # noqa: F401  (for the scripts; the workflow reads it from .datasets, torch-free)
from .errors import SynrecError
from .seeds import derive_seed


def feature_key(model_ident: dict, preprocess, source_fingerprint: str,
                dtype: torch.dtype = torch.float32) -> tuple[str, dict]:
    """The cache key of a feature store; ``dtype`` is the precision the encoder ran in (float32 leaves the key as
    it was before precision was part of it)."""
    parts = {"model": model_ident, "preprocess": repr(preprocess), "images": source_fingerprint}
    if dtype != torch.float32:
        parts["dtype"] = str(dtype).replace("torch.", "")
    return stable_hash(parts), parts


class _Images(torch.utils.data.Dataset):
    def __init__(self, source, preprocess, indices=None):
        self.source, self.preprocess = source, preprocess
        self.indices = np.arange(len(source)) if indices is None else np.asarray(indices)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.preprocess(self.source.image(int(self.indices[i])))


class LabelledImages(_Images):
    """``(preprocess(image), label)`` for the images ``indices`` of a Split or ImageStore (labels from ``source``)."""

    def __init__(self, source, preprocess, indices=None):
        super().__init__(source, preprocess, indices)
        self.labels = torch.as_tensor(np.asarray(source.labels)[self.indices], dtype=torch.long)

    def __getitem__(self, i):
        return super().__getitem__(i), self.labels[i]


def _autocast(device: torch.device, dtype: torch.dtype | str):
    """Autocast to ``dtype`` (weights stay float32), on any device; float32: none."""
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    if dtype != torch.float32:
        return torch.autocast(torch.device(device).type, dtype=dtype)
    return contextlib.nullcontext()


@torch.no_grad()
def encode_images(model, preprocess, source, device, batch_size: int = 256, num_workers: int = 0,
                  dtype: torch.dtype | str = torch.float32, progress: bool = True,
                  desc: str = "features") -> np.ndarray:
    """Un-normalised image embeddings ``(N, D)`` of every image of ``source`` (a Split or an ImageStore), the
    encoder under autocast to ``dtype`` (``synrec.models.pick_dtype`` of the model's spec)."""
    return _encode(model, _Images(source, preprocess), device, batch_size, num_workers, dtype, progress, desc)


def _encode(model, dataset, device, batch_size, num_workers, dtype, progress, desc) -> np.ndarray:
    device = torch.device(device)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, shuffle=False)
    out = []
    try:
        for x in tqdm(loader, desc=desc, disable=not progress, unit="batch"):
            with _autocast(device, dtype):
                out.append(model.encode_image(x.to(device)).float().cpu())
    except SynrecError as exc:  # raised inside a worker: keep only the original one-line message
        found = re.findall(r"SynrecError: (.*?)(?=$)", str(exc))
        raise SynrecError(found[-1] if found else str(exc)) from None
    if not out:
        return np.zeros((0, model.visual.output_dim), np.float32)
    return torch.cat(out).numpy()


class _AugmentedViews(torch.utils.data.Dataset):
    """View ``p`` of image ``indices[i]``: ``augment`` drawn from the seed (seed, p, index), so every pass and image
    gets its own crop whatever the batch or worker."""

    def __init__(self, source, augment, indices, p: int, seed: int):
        self.source, self.augment, self.indices, self.p, self.seed = source, augment, list(indices), p, seed

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        torch.manual_seed(derive_seed(self.seed, "view", self.p, int(self.indices[i])))
        return self.augment(self.source.image(int(self.indices[i])))


def downsized(preprocess, size: int | None):
    """``preprocess`` after a resize of the shorter side to ``size`` (torchvision's default bilinear), as the paper
    code's commented ``Resize(64)`` "for Cifar / Eurosat" does to synthetic images: they then carry the target set's
    resolution (a dataset YAML's ``synthetic_resize``). ``None``: ``preprocess`` itself."""
    if not size:
        return preprocess
    from torchvision import transforms as T

    return T.Compose([T.Resize(size), *preprocess.transforms])


def train_augmentation(preprocess, scale=(0.5, 1.0)):
    """The released Tip-Adapter's (and CoOp's) train views: random resized crop (scale 0.5-1, bicubic) and a
    horizontal flip at the model's input size, then the model's own tensor conversion and normalisation."""
    from torchvision import transforms as T

    steps = list(preprocess.transforms)
    crop = next(i for i, t in enumerate(steps) if isinstance(t, T.CenterCrop))
    size = steps[crop].size
    return T.Compose([T.RandomResizedCrop(size, scale=scale, interpolation=T.InterpolationMode.BICUBIC),
                      T.RandomHorizontalFlip(), *steps[crop + 1:]])


@torch.no_grad()
def encode_views(model, augment, source, indices, passes: int, seed: int, device, batch_size: int = 256,
                 dtype: torch.dtype | str = torch.float32, progress: bool = True) -> np.ndarray:
    """``(passes, len(indices), D)`` image embeddings of ``passes`` augmented views of the given images."""
    return np.stack([_encode(model, _AugmentedViews(source, augment, indices, p, seed), device, batch_size, 0, dtype,
                              progress, f"augmented pass {p + 1}/{passes}") for p in range(passes)])


@torch.no_grad()
def text_classifier(model, tokenizer, classnames: list[str], templates: list[str], device) -> torch.Tensor:
    """``(C, D)`` class embeddings: per class, the L2-normalised text embeddings of every template, averaged and
    re-normalised (CLIP's prompt ensemble, as the paper's code builds its zero-shot head)."""
    weights = []
    for name in classnames:
        tokens = tokenizer([t.replace("{c}", name) for t in templates]).to(device)
        emb = F.normalize(model.encode_text(tokens).float(), dim=-1).mean(0)
        weights.append(F.normalize(emb, dim=0))
    return torch.stack(weights).cpu()
