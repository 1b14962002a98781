"""Fetch every model a config names into the Hugging Face cache, on a login node with network (issue 30):

    python -m synrec.prepare --models [--configfile config/my.yaml ...]

Compute nodes then need no network: the workflow checks each model against the cache before it submits a job
(:func:`synrec.models.check_model`), and jobs run with ``HF_HUB_OFFLINE=1``. Each model is fetched by its own
library's download code, so exactly the files that library will read come down, resumable and checked against the
hub's hashes by ``huggingface_hub``:

* CLIP: open_clip's ``download_pretrained`` for the pretrained tag (the safetensors file where the hub has one);
* a text-to-image pipeline: diffusers' ``DiffusionPipeline.download``: the components of ``model_index.json``, the
  ``fp16`` variant for a float16 model, safetensors only, no safety checker while ``generation.safety_checker`` is
  off;
* the word-to-sentence model: its config, tokenizer and weights (safetensors, else the PyTorch ``.bin``).

Local folders are only checked. With ``HF_HUB_OFFLINE=1`` nothing is fetched: the command then says what is in the
cache and what is missing (exit status 1 if anything is).
"""

from __future__ import annotations

from pathlib import Path

from .errors import SynrecError
from .manifest_run import model_roles
from .models import LOCAL_DIR, _hub_hint, local_model_path
from .runlog import hub_offline


def _size(path: str | Path) -> int:
    """Bytes on disk under ``path``, symlinks (the cache's snapshot links) followed to their blobs once each."""
    path, seen, total = Path(path), set(), 0
    for f in [path] if path.is_file() else path.rglob("*"):
        if f.is_file():
            real = f.resolve()
            if real not in seen:
                seen.add(real)
                total += real.stat().st_size
    return total


def _clip(spec: dict) -> Path:
    from open_clip.pretrained import download_pretrained, get_pretrained_cfg

    name = spec["model"].replace("/", "-")
    cfg = get_pretrained_cfg(name, spec["pretrained"])
    if not cfg:
        raise SynrecError(f"CLIP model '{spec['model']}': no pretrained tag '{spec['pretrained']}' in open_clip")
    return Path(download_pretrained(cfg))


def _pipeline(spec: dict, safety_checker: bool) -> Path:
    from diffusers import DiffusionPipeline

    kw = {"use_safetensors": True}
    if spec.get("dtype") == "float16":
        kw["variant"] = "fp16"
    if not safety_checker:
        kw["safety_checker"] = None  # a component passed in is not downloaded
    return Path(DiffusionPipeline.download(spec["model"], **kw))


def _seq2seq(spec: dict) -> Path:
    from huggingface_hub import list_repo_files, snapshot_download

    offline = hub_offline()
    weights = ["*.safetensors"]
    if not offline and not any(f.endswith(".safetensors") for f in list_repo_files(spec["model"])):
        weights = ["*.bin"]
    return Path(snapshot_download(spec["model"], allow_patterns=["*.json", "*.jinja", "*.model", "*.txt", *weights],
                                  local_files_only=offline))


def fetch_models(cfg: dict) -> tuple[list[str], int]:
    """Fetch (or, offline, find) every model of ``cfg``: ``(one line per model, how many failed)``."""
    safety = cfg.get("generation", {}).get("safety_checker", "off") != "off"
    lines, failed = [], 0
    for role, spec in model_roles(cfg["models"], cfg.get("generators")).items():
        local = local_model_path(spec)
        try:
            if local is not None:
                if not Path(local).exists():
                    raise SynrecError(f"local folder {local} does not exist")
                where, what = Path(local), "local"
            elif role.startswith("clip-"):
                if not spec.get("pretrained"):
                    lines.append(f"{role}: {spec['model']} has no pretrained tag: random weights, nothing to fetch")
                    continue
                where, what = _clip(spec), f"{spec['model']} ({spec['pretrained']})"
            elif role.startswith("text_to_image"):
                where, what = _pipeline(spec, safety), spec["model"]
            else:
                where, what = _seq2seq(spec), spec["model"]
            lines.append(f"{role}: {what}: {_size(where) / 1e9:.2f} GB at {where}")
        except SynrecError as exc:
            lines.append(f"{role}: {exc}")
            failed += 1
        except Exception as exc:  # no network, a gated repository without HF_TOKEN, not in the cache offline
            model = spec["model"].removeprefix(LOCAL_DIR)
            lines.append(f"{role}: {model} could not be fetched ({_hub_hint()}): {str(exc).splitlines()[0][:200]}")
            failed += 1
    return lines, failed
