"""Text prompts for the text-to-image model: basic (B) and language enhancement (LE).

* **B**: the class name in the dataset's ``generation_template`` (e.g. ``'a centered satellite photo of {}'``).
  The name is the dataset's ``prompt_classnames`` entry where it has them (EuroSAT: "Herbaceous Vegetation Land",
  as the paper code generates), else its ``classnames`` entry (CLIP's, which the zero-shot head always uses).
* **LE**: a word-to-sentence T5 (CommonGen) turns the class keyword into diverse sentences, which then fill the same
  template. As in the paper's code (facts 2.1) we sample ``N + extra`` sentences with top-k sampling, deduplicate and
  keep a random ``N``. Unlike it we seed everything, feed the label whole (the paper's code split labels on '.'), and
  when fewer than ``N`` unique sentences come out we sample more rounds, then reuse sentences instead of crashing;
  ``n_unique`` records how many distinct ones a class got.
"""

from __future__ import annotations

import random

import torch
from tqdm import tqdm

from .seeds import derive_seed


def prompt_names(ds_cfg: dict) -> list[str]:
    """The class names the prompts carry: ``prompt_classnames`` where the dataset sets them (EuroSAT: its own names,
    as the paper code generated from), else ``classnames`` (the zero-shot head's)."""
    return ds_cfg.get("prompt_classnames") or ds_cfg["classnames"]


def basic_prompts(ds_cfg: dict) -> list[list[str]]:
    """One prompt per class: the class name in the generation template."""
    return [[ds_cfg["generation_template"].format(c)] for c in prompt_names(ds_cfg)]


@torch.no_grad()
def sample_sentences(tokenizer, model, keyword: str, n: int, seed: int, top_k: int = 50, max_length: int = 20,
                     batch_size: int = 64) -> list[str]:
    """``n`` sampled sentences (with repeats) from the word-to-sentence model for one keyword."""
    torch.manual_seed(seed)
    enc = tokenizer([keyword], return_tensors="pt").to(model.device)
    out: list[str] = []
    while len(out) < n:
        k = min(batch_size, n - len(out))
        ids = model.generate(**enc, do_sample=True, top_k=top_k, max_length=max_length, num_return_sequences=k)
        out += [s.strip() for s in tokenizer.batch_decode(ids, skip_special_tokens=True)]
    return out


def enhance_class(tokenizer, model, keyword: str, n: int, seed: int, extra: int = 50, max_rounds: int = 4,
                  **sample_kw) -> tuple[list[str], int]:
    """``n`` LE sentences for one class and the number of distinct sentences among them."""
    unique: list[str] = []
    for rnd in range(max_rounds):
        want = n + extra if rnd == 0 else extra
        for s in sample_sentences(tokenizer, model, keyword, want, derive_seed(seed, rnd), **sample_kw):
            if s and s not in unique:
                unique.append(s)
        if len(unique) >= n:
            break
    rng = random.Random(seed)
    if len(unique) >= n:
        return rng.sample(unique, n), n
    if not unique:
        unique = [keyword]
    return [unique[i % len(unique)] for i in range(n)], len(unique)


def le_prompts(ds_cfg: dict, tokenizer, model, le_cfg: dict, seed: int, progress: bool = True) -> tuple[list, list]:
    """LE prompts per class (sentences in the generation template) and, per class, the count of distinct ones."""
    prompts, n_unique = [], []
    names = prompt_names(ds_cfg)
    for name in tqdm(names, desc=f"LE {ds_cfg['name']}", disable=not progress):
        sentences, k = enhance_class(
            tokenizer, model, ds_cfg["le_keyword"].format(name), le_cfg["sentences_per_class"],
            derive_seed(seed, ds_cfg["name"], name, "LE"), extra=le_cfg["extra_samples"],
            max_rounds=le_cfg["max_rounds"], top_k=le_cfg["top_k"], max_length=le_cfg["max_length"],
            batch_size=le_cfg["batch_size"],
        )
        prompts.append([ds_cfg["generation_template"].format(s) for s in sentences])
        n_unique.append(k)
    return prompts, n_unique


def prompt_for_image(class_prompts: list[str], image_index: int, images_per_class: int) -> str:
    """Which prompt image ``i`` of a class uses: consecutive equal blocks (2000 images / 200 sentences = 10 each)."""
    per = max(1, -(-images_per_class // len(class_prompts)))  # ceil
    return class_prompts[min(image_index // per, len(class_prompts) - 1)]
