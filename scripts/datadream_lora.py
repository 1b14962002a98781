"""Rule datadream_lora: DataDream's LoRA adapters on the generator, trained on one split's shots, for a group of
classes (one LoRA each) or for all of them (one LoRA) -> a folder per LoRA in diffusers' format, with its history."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

from synrec.atomic import atomic_dir
from synrec.datadream import lora_groups, lora_steps, save_lora, shot_prompts, train_lora
from synrec.datasets import load_split
from synrec.generation import chunk_classes
from synrec.manifest import check_shots
from synrec.models import load_text_to_image, pick_device
from synrec.runlog import rule_log
from synrec.seeds import derive_seed, name_order

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"datadream_lora {w.dataset} {w.shots}-shot seed {w.fseed} chunk {w.chunk}"):
    ds, dd, gen = sm.params.dataset, sm.params.datadream, sm.params.generation
    names = ds["classnames"]
    train = load_split(ds, sm.params.data_root, sm.params.train_split)
    shots = check_shots(json.loads(Path(sm.input.split).read_text()), sm.input.split, sm.input.train_manifest,
                        train.fingerprint())["train"]
    groups = lora_groups(names, dd["mode"])
    if dd["mode"] == "per_class":
        groups = {k: v for k, v in groups.items() if v[0] in chunk_classes(int(w.chunk), len(names),
                                                                           dd["classes_per_job"])}
    device = pick_device(sm.params.device)
    with atomic_dir(sm.output[0]) as tmp:
        for key, classes in groups.items():
            idx = [i for i in shots if int(train.labels[i]) in classes]
            idx = [idx[j] for j in name_order(train.labels[idx], names)]  # class-name order (relabelling-proof)
            prompts = shot_prompts(train.labels[idx], names, dd["prompt"])
            print(f"LoRA {key}: {len(idx)} shots of {len(classes)} class(es), rank {dd['rank']}, "
                  f"{lora_steps(dd, len(idx))} steps at {gen['height']} px; prompt {prompts[0]!r}")
            pipe = load_text_to_image(sm.params.model, device)  # a fresh generator for every LoRA
            seed = derive_seed(sm.params.seed, "datadream", ds["name"], f"{w.shots}shot-seed{w.fseed}",
                               *sorted(names[c] for c in classes))  # keyed on the class names, not their labels
            history = train_lora(pipe, [train.image(i) for i in idx], prompts, dd, gen["height"], seed, device)
            (tmp / key).mkdir(parents=True)
            if history:
                save_lora(pipe, tmp / key)
            (tmp / key / "datadream.json").write_text(json.dumps({
                "classes": [names[c] for c in classes], "shots": [int(i) for i in idx], "seed": seed,
                "settings": dd, "model": sm.params.model["model"], "history": history}, indent=1) + "\n")
