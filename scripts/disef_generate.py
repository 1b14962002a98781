"""Rule disef_generate: DISEF's images of one group of classes, each by img2img from a shot, prompted with that
shot's caption -> HDF5 shard (resumable)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from collections import defaultdict
from pathlib import Path

from synrec.captioning import read_captions
from synrec.datasets import load_split
from synrec.disef import plan_disef_images
from synrec.errors import SynrecError
from synrec.generation import apply_speed_settings, chunk_classes, generate_shard
from synrec.manifest import check_shots
from synrec.models import load_text_to_image, pick_device
from synrec.real_guidance import GuidedPipeline, fit_reference, start_timestep
from synrec.runlog import rule_log, throughput_settings

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"disef_generate {w.dataset} {w.shots}-shot seed {w.fseed} chunk {w.chunk}"):
    ds, disef = sm.params.dataset, sm.params.disef
    gen = {**sm.params.generation, **throughput_settings(sm, "generation")}
    train = load_split(ds, sm.params.data_root, sm.params.train_split)
    split = check_shots(json.loads(Path(sm.input.split).read_text()), sm.input.split, sm.input.train_manifest,
                        train.fingerprint())
    captions = read_captions(sm.input.captions)
    if sorted(captions) != sorted(int(i) for i in split["train"]):
        raise SynrecError(f"captions {sm.input.captions} are not of the shots of {sm.input.split}; rerun snakemake")
    shots = defaultdict(list)
    for idx in split["train"]:
        shots[int(train.labels[idx])].append(int(idx))
    labels = chunk_classes(int(w.chunk), len(ds["classnames"]), disef["classes_per_job"])
    tag = f"DISEF-{w.shots}shot-seed{w.fseed}"
    plan = plan_disef_images(ds["name"], {c: shots[c] for c in labels}, captions, disef["images_per_class"],
                             sm.params.seed, tag, ds["classnames"], disef["prompt"])
    pipe = load_text_to_image(sm.params.model, pick_device(sm.params.device), img2img=True,
                              safety_checker=gen.get("safety_checker", "off") != "off")
    pipe = apply_speed_settings(pipe, gen)
    start = start_timestep(pipe.scheduler, gen["num_inference_steps"], disef["strength"])
    print(f"classes {labels[0]}..{labels[-1]}: {len(plan)} images, strength {disef['strength']} (img2img starts at "
          f"timestep {start} of the {gen['num_inference_steps']}-step grid), guidance {gen['guidance_scale']}; "
          f"first prompt {plan[0][2]!r}")
    attrs = {"dataset": ds["name"], "strategy": tag, "model": sm.params.model["model"], "strength": disef["strength"],
             "start_timestep": -1 if start is None else start, "captioner": sm.params.captioner["model"]}
    generate_shard(GuidedPipeline(pipe, disef["strength"]), plan, sm.output[0], gen, attrs,
                   reference=lambda item: fit_reference(train.image(item[4]), gen["width"], gen["height"]))
