"""Rule generate: synthetic images for one group of classes -> HDF5 shard (resumable)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

from synrec.generation import apply_speed_settings, chunk_classes, generate_shard, plan_images
from synrec.models import load_text_to_image, pick_device
from synrec.runlog import rule_log, throughput_settings

sm = snakemake  # noqa: F821
with rule_log(sm.log, f"generate {sm.wildcards.dataset} {sm.wildcards.strategy} chunk {sm.wildcards.chunk}"):
    record = json.loads(Path(sm.input.prompts).read_text())
    generator = sm.wildcards.strategy.partition("@")[2] or None  # LE@<name>: one of the config's generators
    gen = {**sm.params.generation, **throughput_settings(sm, "generation", generator)}
    labels = chunk_classes(int(sm.wildcards.chunk), len(record["classnames"]), gen["classes_per_job"])
    plan = plan_images(record["dataset"], labels, record["prompts"], gen["images_per_class"], sm.params.seed,
                       record["classnames"])
    print(f"classes {labels[0]}..{labels[-1]}: {len(plan)} images")
    pipe = load_text_to_image(sm.params.model, pick_device(sm.params.device),
                              safety_checker=gen.get("safety_checker", "off") != "off")
    pipe = apply_speed_settings(pipe, gen)
    attrs = {"dataset": record["dataset"], "strategy": sm.wildcards.strategy, "model": sm.params.model["model"]}
    generate_shard(pipe, plan, sm.output[0], gen, attrs)
