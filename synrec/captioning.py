"""Captions of the few-shot real images by an image-to-text model (DISEF's first step; :mod:`synrec.disef`).

DISEF captions every real shot with LLaVA-1.5-7B, asking ``Provide a detailed caption for the image focusing on the
object, knowing it's a <class>.`` (naming the class makes the caption name it too), and samples at temperature 0.2.
Here any image-to-text model of transformers loads by its hub id or folder through ``AutoProcessor`` and
``AutoModelForImageTextToText`` (LLaVA, LLaVA-NeXT, BLIP, BLIP-2, GIT, PaliGemma, Qwen2-VL, Florence-2, ...):

* a *chat* model (its processor has a chat template: LLaVA and the like) gets DISEF's question as a user turn with
  the image, and the caption is the text it writes after the prompt;
* a *captioning* model (no chat template: BLIP, GIT) continues a text prefix (``prefix``, class name filled in), and
  the caption is the whole text, prefix included.

Decoding is greedy (``do_sample: false``), so a caption is a function of the image, the class and the model: DISEF's
temperature-0.2 sampling is nearly greedy and would make captions depend on the batch's random state. Captions are
keyed by the shot's index into the train split, so each image generated from a shot is prompted with that shot's
own caption.
"""

from __future__ import annotations

from pathlib import Path

from .errors import SynrecError

#: DISEF's question to LLaVA; {c} is the class name
QUERY = "Provide a detailed caption for the image focusing on the object, knowing it's a {c}."
DEFAULTS = {"query": QUERY, "prefix": "a picture of a {c},", "max_new_tokens": 77, "batch_size": 8, "image_size": None}


def load_captioner(spec: dict, device="cpu"):
    """``(processor, model)`` of an image-to-text model by hub id or folder, in the spec's dtype, eval mode."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from .models import _hub_hint, pick_dtype

    try:
        processor = AutoProcessor.from_pretrained(spec["model"])
        model = AutoModelForImageTextToText.from_pretrained(spec["model"], dtype=pick_dtype(spec, device))
    except Exception as exc:
        raise SynrecError(
            f"captioner model '{spec['model']}' could not be loaded as an image-to-text model ({_hub_hint()}): "
            f"{str(exc).splitlines()[0][:200]}"
        ) from None
    return processor, model.to(torch.device(device)).eval()


def is_chat(processor) -> bool:
    return getattr(processor, "chat_template", None) is not None


def caption_text(processor, classname: str, cfg: dict) -> str:
    """The text the model is given beside the image: DISEF's question in a chat turn, or the caption prefix."""
    if is_chat(processor):
        turn = [{"role": "user", "content": [{"type": "image"}, {"type": "text",
                                                                 "text": cfg["query"].replace("{c}", classname)}]}]
        return processor.apply_chat_template(turn, add_generation_prompt=True)
    return cfg["prefix"].replace("{c}", classname)


def clean(text: str) -> str:
    """One line: whitespace runs folded (a caption becomes a generator's prompt)."""
    return " ".join(text.split())


def caption_images(processor, model, images: list, classnames: list[str], cfg: dict | None = None,
                   progress: bool = True) -> list[str]:
    """One caption per image (``classnames[i]`` is image i's class), greedy, in batches of ``cfg['batch_size']``."""
    import torch
    from tqdm import tqdm

    cfg = {**DEFAULTS, **(cfg or {})}
    if len(images) != len(classnames):
        raise SynrecError(f"captioning: {len(images)} images but {len(classnames)} class names")
    chat, bs, out = is_chat(processor), int(cfg["batch_size"]), []
    tok = getattr(processor, "tokenizer", processor)
    if chat and getattr(tok, "padding_side", "left") != "left":
        tok.padding_side = "left"  # a decoder-only model continues after the prompt: pad on the left
    device, dtype = model.device, model.dtype
    for a in tqdm(range(0, len(images), bs), desc="caption", unit="batch", disable=not progress):
        pics = [im.convert("RGB") for im in images[a:a + bs]]
        if cfg.get("image_size"):
            pics = [im.resize((cfg["image_size"],) * 2) for im in pics]
        texts = [caption_text(processor, c, cfg) for c in classnames[a:a + bs]]
        enc = processor(images=pics, text=texts, return_tensors="pt", padding=True)
        enc = {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device)) for k, v in enc.items()}
        with torch.inference_mode():
            ids = model.generate(**enc, do_sample=False, num_beams=1, max_new_tokens=int(cfg["max_new_tokens"]))
        prompt_len = enc["input_ids"].shape[1]
        if chat or (ids.shape[1] > prompt_len and torch.equal(ids[:, :prompt_len], enc["input_ids"])):
            new = ids[:, prompt_len:]
            words = tok.batch_decode(new, skip_special_tokens=True)
            if not chat:  # a captioning model continues its prefix: the caption is prefix + continuation
                words = [f"{t} {w}" for t, w in zip(texts, words)]
        else:  # BLIP-style generate returns the prefix re-tokenised with the continuation
            words = tok.batch_decode(ids, skip_special_tokens=True)
        out += [clean(w) for w in words]
    return out


def read_captions(path: str | Path) -> dict[int, str]:
    """``{train index: caption}`` of a captions file (rule captions)."""
    import json

    data = json.loads(Path(path).read_text())
    return {int(k): v for k, v in data["captions"].items()}
