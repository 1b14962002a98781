"""Rule generate_pretrain: LE images for one block (class group x image range) of a pre-training class list ->
HDF5 shard (resumable; the shards of a label space are its image store)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

from synrec.generation import apply_speed_settings, generate_shard
from synrec.models import load_text_to_image, pick_device
from synrec.pretrain_data import block_range, plan_block
from synrec.runlog import rule_log, throughput_settings

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"generate_pretrain {w.classlist} block {w.block}"):
    record = json.loads(Path(sm.input.prompts).read_text())
    split = sm.params.split
    labels, start, stop = block_range(w.block, len(record["classnames"]), sm.params.images_per_class,
                                      split["classes_per_job"], split["images_per_job"])
    plan = plan_block(w.classlist, labels, record["prompts"], start, stop, sm.params.seed, record["classnames"])
    print(f"classes {labels[0]}..{labels[-1]}, images {start}..{stop - 1} of each: {len(plan)} images")
    gen = {**sm.params.generation, **throughput_settings(sm, "generation")}
    pipe = load_text_to_image(sm.params.model, pick_device(sm.params.device),
                              safety_checker=gen.get("safety_checker", "off") != "off")
    pipe = apply_speed_settings(pipe, gen)
    attrs = {"dataset": w.classlist, "strategy": "LE", "model": sm.params.model["model"], "block": [start, stop]}
    generate_shard(pipe, plan, sm.output[0], gen, attrs)
