"""Load the three models of the study by their ecosystem names or from a local path, offline-capable.

* CLIP through open_clip: ``{model: RN50, pretrained: openai}``, or ``{model: "local-dir:<folder>"}`` (open_clip's
  own folder format: ``open_clip_config.json`` + weights).
* The text-to-image generator through diffusers: any ``DiffusionPipeline`` id or folder. GLIDE, the paper's model,
  is not in diffusers, so the default is a Stable Diffusion checkpoint.
* The word-to-sentence model through transformers: ``mrm8488/t5-base-finetuned-common_gen`` (the paper code's).

Downloads go through the Hugging Face cache (``HF_HOME``); with ``HF_HUB_OFFLINE=1`` nothing is fetched and a
missing model is a one-line :class:`SynrecError` naming it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import SynrecError
from .runlog import hub_offline

if TYPE_CHECKING:  # torch is imported where it is used: every Snakemake start reads this module (model checks)
    import torch

LOCAL_DIR = "local-dir:"


def offline_jobs(environ=os.environ) -> str:
    """Jobs run with ``HF_HUB_OFFLINE=1`` unless the environment says otherwise: every model is checked in the cache
    before a job is submitted (:func:`check_model`), so a job never needs the network, and a file missing on a
    compute node fails in one line at once instead of after minutes of retries. Set by the workflow, inherited by
    local jobs and exported to SLURM jobs; returns the value in force."""
    return environ.setdefault("HF_HUB_OFFLINE", "1")


def pick_device(device: str = "auto") -> torch.device:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(spec: dict, device: torch.device | str) -> torch.dtype:
    """The dtype a model runs in: its spec's ``dtype`` on a GPU. On CPU float32, unless the spec says
    ``dtype_on_cpu: true``, which runs the half-precision path on CPU (how CI tests it without a GPU)."""
    import torch

    name = spec.get("dtype", "float32")
    if torch.device(device).type == "cpu" and not spec.get("dtype_on_cpu", False):
        return torch.float32
    return getattr(torch, name)


def _looks_local(name: str) -> bool:
    # Hub ids are 'name' or 'org/name'; anything absolute, explicitly relative, or deeper is a path.
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or Path(name).exists()


def local_model_path(spec: dict) -> str | None:
    """The folder or file a model spec points at, if it is a local one (else None: a hub name or tag).

    A relative path with a single '/' reads like a hub id ('org/name'): write it as './dir/name'.
    """
    name = spec["model"]
    if name.startswith(LOCAL_DIR):
        return name[len(LOCAL_DIR):]
    if _looks_local(name):
        return name
    pre = spec.get("pretrained")
    if pre and _looks_local(pre):
        return pre
    return None


def _hub_hint() -> str:
    offline = hub_offline()
    home = os.environ.get("HF_HOME", "~/.cache/huggingface")
    return f"HF_HOME={home}, offline={'yes' if offline else 'no'}"


def _check_clip(spec: dict) -> None:
    name, pretrained = spec["model"], spec.get("pretrained")
    if name.startswith(LOCAL_DIR):  # no open_clip import (seconds) for a local folder: every Snakemake start checks
        folder = Path(name[len(LOCAL_DIR):])
        if not (folder / "open_clip_config.json").is_file():
            raise SynrecError(f"CLIP model '{name}': {folder}/open_clip_config.json not found")
        return
    import open_clip

    if name.replace("/", "-") not in open_clip.list_models():
        raise SynrecError(f"CLIP model '{name}' is not an open_clip model name (see open_clip.list_models())")
    elif pretrained and not Path(pretrained).exists() and pretrained not in open_clip.list_pretrained_tags_by_model(
        name.replace("/", "-")
    ):
        raise SynrecError(f"CLIP model '{name}': unknown pretrained tag or file '{pretrained}' (see "
                          f"open_clip.list_pretrained_tags_by_model('{name.replace('/', '-')}'))")


def _check_clip_weights(spec: dict) -> None:
    """An open_clip pretrained tag whose weights come from the Hub (``hf_hub`` in open_clip's table) must be in the
    Hugging Face cache: a compute node cannot fetch them, and a job that tries fails after minutes of retries."""
    name, pretrained = spec["model"], spec.get("pretrained")
    if name.startswith(LOCAL_DIR) or not pretrained or Path(pretrained).exists():
        return
    from huggingface_hub import try_to_load_from_cache
    from open_clip.pretrained import HF_WEIGHTS_NAME, _get_safe_alternatives, get_pretrained_cfg

    hub = get_pretrained_cfg(name.replace("/", "-"), pretrained).get("hf_hub")
    if not hub:
        return
    repo_id, filename = os.path.split(hub)  # 'org/name/' (open_clip's default file name) or 'org/name/file'
    filename = filename or HF_WEIGHTS_NAME
    names = [*_get_safe_alternatives(filename), filename]  # what open_clip itself tries, safetensors first
    if not any(isinstance(try_to_load_from_cache(repo_id, f), str) for f in names):
        raise SynrecError(f"CLIP model '{name}' (pretrained '{pretrained}'): its weights ({repo_id}) are not in the "
                          f"Hugging Face cache ({_hub_hint()}): fetch them where there is network (`hf download "
                          f"{repo_id}`; {FETCH_ALL})")


#: the one command that fetches them all, on a login node (synrec/model_fetch.py)
FETCH_ALL = "`python -m synrec.prepare --models` fetches every model of the config"

#: the file a hub repository of each kind has at its root: what the cache is asked for
HUB_MARKER = {"text_to_image": "model_index.json", "word_to_sentence": "config.json"}


def _check_hub(what: str, repo_id: str, marker: str) -> None:
    """A hub id must be in the Hugging Face cache before the run: compute nodes often have no network, and a job
    that downloads fails after minutes of retries, or fetches gigabytes once per job. Online, an id the Hub does not
    know is said so."""
    from huggingface_hub import repo_exists, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo_id, marker), str):
        return
    offline = hub_offline()
    if offline:
        raise SynrecError(f"{what} '{repo_id}' is not in the Hugging Face cache ({_hub_hint()}): fetch it where there "
                          f"is network (`hf download {repo_id}`; {FETCH_ALL}), or name a local folder")
    try:
        known = repo_exists(repo_id)
    except Exception:  # no network here either
        known = True
    if not known:
        raise SynrecError(f"{what} '{repo_id}' is not a model on the Hugging Face Hub (nor in the cache: "
                          f"{_hub_hint()})")
    raise SynrecError(f"{what} '{repo_id}' is not in the Hugging Face cache ({_hub_hint()}): fetch it before the run "
                      f"(`hf download {repo_id}`; {FETCH_ALL}), so that no job downloads it on a compute node")


def check_model(role: str, spec: dict) -> None:
    """Before any job starts (the run's manifest refresh): the model a config names for ``role`` (``clip-<backbone>``,
    ``text_to_image``, ``word_to_sentence``) must be one its library can load here: an open_clip name and pretrained
    tag, a local folder that exists, or a hub id in the cache (or, online, on the Hub). A one-line
    :class:`SynrecError` otherwise, so a typo stops the run before Snakemake removes any job's outputs."""
    local = local_model_path(spec)
    if role.startswith("clip-"):
        _check_clip(spec)
        _check_clip_weights(spec)
    elif local is not None:
        if not Path(local).exists():
            raise SynrecError(f"{role} model folder {local} does not exist (model '{spec['model']}' in the workflow "
                              "config)")
    else:
        kind = role.partition("@")[0]  # text_to_image@<name>: one of the config's generators
        _check_hub(role.replace("_", "-") + " model", spec["model"], HUB_MARKER.get(kind, "config.json"))


def load_clip(spec: dict, device: torch.device | str = "cpu"):
    """Return ``(model, preprocess, tokenizer)`` in eval mode on ``device``."""
    import open_clip

    name, pretrained = spec["model"], spec.get("pretrained")
    _check_clip(spec)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained, device=device)
    except Exception as exc:
        raise SynrecError(
            f"CLIP model '{name}' (pretrained '{pretrained}') could not be loaded ({_hub_hint()}): "
            f"{str(exc).splitlines()[0][:200]}"
        ) from None
    model.eval()
    return model, preprocess, open_clip.get_tokenizer(name)


def _check_img2img(model: str) -> None:
    """Real guidance needs the family's img2img pipeline; diffusers has none for some (PixArt, for one)."""
    from diffusers import DiffusionPipeline
    from diffusers.pipelines.auto_pipeline import AUTO_IMAGE2IMAGE_PIPELINES_MAPPING as I2I
    from diffusers.pipelines.auto_pipeline import AUTO_TEXT2IMAGE_PIPELINES_MAPPING as T2I

    try:
        name = DiffusionPipeline.load_config(model)["_class_name"]
    except Exception:
        return  # not readable: from_pretrained below says why
    families = [key for key, cls in T2I.items() if cls.__name__ == name]
    if families and not any(key in I2I for key in families):
        raise SynrecError(f"text-to-image model '{model}' ({name}) has no img2img pipeline in diffusers, which real "
                          "guidance (RG) needs: name a generator of another family for the few-shot study")


def load_text_to_image(spec: dict, device: torch.device | str = "cpu", img2img: bool = False,
                       safety_checker: bool = False):
    """A diffusers pipeline (``StableDiffusionImg2ImgPipeline``-style when ``img2img``) on ``device``. Without
    ``safety_checker`` a pipeline that ships an NSFW checker is loaded without it (its weights are not read)."""
    import torch
    from diffusers import AutoPipelineForImage2Image, DiffusionPipeline

    device = torch.device(device)
    cls = AutoPipelineForImage2Image if img2img else DiffusionPipeline
    if img2img:
        _check_img2img(spec["model"])
    try:
        extra = {}
        if not safety_checker and "safety_checker" in DiffusionPipeline.load_config(spec["model"]):
            extra = {"safety_checker": None, "requires_safety_checker": False}
        pipe = cls.from_pretrained(spec["model"], dtype=pick_dtype(spec, device), **extra)
    except Exception as exc:
        raise SynrecError(
            f"text-to-image model '{spec['model']}' could not be loaded ({_hub_hint()}): "
            f"{str(exc).splitlines()[0][:200]}"
        ) from None
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def load_word_to_sentence(spec: dict, device: torch.device | str = "cpu"):
    """``(tokenizer, model)`` of a transformers seq2seq model (T5 fine-tuned on CommonGen in the paper), in the
    spec's dtype (:func:`pick_dtype`)."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(spec["model"])
        model = AutoModelForSeq2SeqLM.from_pretrained(spec["model"], dtype=pick_dtype(spec, device))
    except Exception as exc:
        raise SynrecError(
            f"word-to-sentence model '{spec['model']}' could not be loaded ({_hub_hint()}): "
            f"{str(exc).splitlines()[0][:200]}"
        ) from None
    return tok, model.to(device).eval()


def timm_model(name: str, num_classes: int, seed: int, kwargs: dict | None = None):
    """A timm model by name with random weights drawn from ``seed`` (``num_classes=0``: pooled features, no head);
    an unknown name is a one-line error."""
    import timm
    import torch

    if not timm.is_model(name):
        raise SynrecError(f"model {name!r} is not a timm model name (see timm.list_models())")
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=False, num_classes=num_classes, **(kwargs or {}))


def model_identity(spec: dict) -> dict:
    """What identifies a model's weights: its names, plus a content hash when it is a local folder or file."""
    ident = {"model": spec["model"], "pretrained": spec.get("pretrained")}
    local = local_model_path(spec)
    if local and Path(local).exists():
        h = hashlib.sha256()
        files = sorted(Path(local).rglob("*")) if Path(local).is_dir() else [Path(local)]
        for f in files:
            if f.is_file():
                h.update(f.name.encode())
                with open(f, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
        ident["sha256"] = h.hexdigest()[:16]
    return ident
