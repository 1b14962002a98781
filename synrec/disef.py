"""DISEF (da Costa et al., 2023, "Diversified in-domain synthesis with efficient fine-tuning for few-shot
classification"): captions of the shots, img2img from each shot with its caption, a zero-shot filter, then LoRA on
both CLIP encoders.

The published recipe (its ``synthetic_augmentation_pipeline.py`` and ``fine-tune/scripts/disef.sh``), and ours:

1. **Captions.** LLaVA-1.5-7B captions every shot, asked to focus on the object knowing its class
   (:mod:`synrec.captioning`; default captioner ``llava-hf/llava-1.5-7b-hf``). Rule ``captions``, one file per split.
2. **In-domain synthesis.** The shot's latents are noised to step 5 of a 20-step DPM-Solver grid and denoised with
   the caption as prompt at guidance 8: an img2img start at strength 0.75. DISEF picks the shots at random (with
   replacement) and shuffles the captions within a batch; here image i of a class starts from shot ``i mod K`` with
   *that shot's* caption (:func:`plan_disef_images`), and its seed is the usual per-image one, so a rerun draws the
   same images. 64 images per class.
3. **Filter.** An image is kept only when CLIP's zero-shot prediction is its class (DISEF uses an OpenCLIP ViT-H-14
   and regenerates until 64 pass, or gives up after 100 rounds and keeps what comes). Here the study's own CLIP and
   zero-shot head judge a fixed budget once: no regeneration, so fewer than 64 may remain (rule ``disef_filter``
   records how many). :func:`zero_shot_keep`.
4. **Fine-tuning.** LoRA on both CLIP encoders with real and synthetic cross-entropy weighted 0.8 / 0.2: method
   ``clip-lora-DISEF`` of :mod:`synrec.clip_lora` with ``syn_weight`` 0.2 (DISEF's own grid over lr, batch and
   LoRA rank is not run: CLIP-LoRA's settings are shared by every strategy, so the data are what differs).
"""

from __future__ import annotations

import numpy as np

from .seeds import derive_seed

DEFAULTS = {"captioner": {"model": "llava-hf/llava-1.5-7b-hf", "dtype": "float16"}, "images_per_class": 64,
            "strength": 0.75, "guidance_scale": 8.0, "classes_per_job": 10, "syn_weight": 0.2,
            "prompt": "{caption}", "filter": True}


def disef_prompt(caption: str, classname: str, template: str = "{caption}") -> str:
    """The generator's prompt for an image from a shot: the template filled with the shot's caption; the class name
    goes in front when the caption does not name it (DISEF's question makes LLaVA name it almost always)."""
    text = template.replace("{caption}", caption).replace("{c}", classname)
    return text if classname.lower() in text.lower() else f"{classname}, {text}"


def plan_disef_images(dataset: str, shots_by_class: dict[int, list[int]], captions: dict[int, str],
                      images_per_class: int, seed: int, tag: str, classnames: list[str],
                      template: str = "{caption}") -> list[tuple]:
    """``(label, index, prompt, seed, shot)`` per image: image i of a class starts from its shot ``i mod K`` (the
    shots in split order) and is prompted with that shot's own caption."""
    plan = []
    for label, shots in sorted(shots_by_class.items()):
        for i in range(images_per_class):
            shot = int(shots[i % len(shots)])
            plan.append((label, i, disef_prompt(captions[shot], classnames[label], template),
                         derive_seed(seed, dataset, tag, classnames[label], i), shot))
    return plan


def zero_shot_keep(features: np.ndarray, labels: np.ndarray, class_emb: np.ndarray) -> np.ndarray:
    """DISEF's filter: the indices of the images whose zero-shot prediction (cosine to the class embeddings) is their
    own class. An image's own norm scales all its cosines alike, so only the embeddings are normalised."""
    emb = np.asarray(class_emb, dtype=np.float64)
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    return np.flatnonzero((np.asarray(features, dtype=np.float64) @ emb.T).argmax(1) == np.asarray(labels))
