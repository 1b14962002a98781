"""Rule real_guidance: RG images for one group of classes, each started from a noised real shot -> HDF5 shard."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from collections import defaultdict
from pathlib import Path

from synrec.datasets import load_split
from synrec.generation import apply_speed_settings, chunk_classes, generate_shard, plan_guided_images
from synrec.manifest import check_shots
from synrec.models import load_text_to_image, pick_device
from synrec.real_guidance import GuidedPipeline, fit_reference, rg_settings
from synrec.runlog import rule_log, throughput_settings

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"real_guidance {w.dataset} {w.shots}-shot seed {w.fseed} chunk {w.chunk}"):
    ds, rg = sm.params.dataset, sm.params.real_guidance
    gen = {**sm.params.generation, **throughput_settings(sm, "generation")}
    # B prompts: the class name, as the paper's code
    prompts = json.loads(Path(sm.input.prompts).read_text())["prompts"]
    train = load_split(ds, sm.params.data_root, sm.params.train_split)
    split = check_shots(json.loads(Path(sm.input.split).read_text()), sm.input.split, sm.input.train_manifest,
                        train.fingerprint())
    shots = defaultdict(list)
    for idx in split["train"]:
        shots[int(train.labels[idx])].append(idx)
    labels = chunk_classes(int(w.chunk), len(ds["classnames"]), rg["classes_per_job"])
    plan = plan_guided_images(ds["name"], {c: shots[c] for c in labels}, prompts, rg["images_per_class"],
                              sm.params.seed, tag=f"RG-{w.shots}shot-seed{w.fseed}", classnames=ds["classnames"])
    pipe = load_text_to_image(sm.params.model, pick_device(sm.params.device), img2img=True,
                              safety_checker=gen.get("safety_checker", "off") != "off")
    pipe = apply_speed_settings(pipe, gen)
    steps = gen["num_inference_steps"]
    rg_at = rg_settings(pipe, int(w.shots), steps, gen["height"], gen["width"], rg["refer_iters"], rg["strength"])
    strength = rg_at["strength"]
    print(f"classes {labels[0]}..{labels[-1]}: {len(plan)} images, strength {strength:.3f}: img2img starts at "
          f"timestep {rg_at['start_timestep']} of the {steps}-step grid, noise std {rg_at['noise_std']:.3f} (the "
          f"paper's {rg_at['noise_std_paper']:.3f})")
    attrs = {"dataset": ds["name"], "strategy": f"RG-{w.shots}shot-seed{w.fseed}", "model": sm.params.model["model"],
             **rg_at}
    generate_shard(GuidedPipeline(pipe, strength), plan, sm.output[0], gen, attrs,
                   reference=lambda item: fit_reference(train.image(item[4]), gen["width"], gen["height"]))
