"""Rule datadream_generate: DataDream's images for one group of classes, each class generated with its own LoRA on
(or the dataset's one) -> HDF5 shard (resumable). Per-image seeds are those of the B and LE images."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.datadream import LoraSwitch, has_lora, lora_folders
from synrec.generation import apply_speed_settings, chunk_classes, generate_shard, plan_images
from synrec.models import load_text_to_image, pick_device
from synrec.runlog import rule_log, throughput_settings

sm = snakemake  # noqa: F821
w = sm.wildcards
with rule_log(sm.log, f"datadream_generate {w.dataset} {w.shots}-shot seed {w.fseed} chunk {w.chunk}"):
    ds, dd = sm.params.dataset, sm.params.datadream
    gen = {**sm.params.generation, **throughput_settings(sm, "generation")}
    names = ds["classnames"]
    labels = chunk_classes(int(w.chunk), len(names), dd["classes_per_job"])
    prompts = [[dd["prompt"].replace("{c}", c)] for c in names]  # the prompt the LoRA was trained with
    plan = plan_images(ds["name"], labels, prompts, dd["images_per_class"], sm.params.seed, names)
    folders = lora_folders(sm.input.lora, labels, dd["mode"])
    print(f"classes {labels[0]}..{labels[-1]}: {len(plan)} images at guidance {gen['guidance_scale']}, "
          f"{sum(has_lora(f) for f in set(folders.values()))} LoRA(s) ({dd['mode']})")
    pipe = load_text_to_image(sm.params.model, pick_device(sm.params.device),
                              safety_checker=gen.get("safety_checker", "off") != "off")
    pipe = apply_speed_settings(pipe, gen)
    attrs = {"dataset": ds["name"], "strategy": f"DD-{w.shots}shot-seed{w.fseed}", "model": sm.params.model["model"],
             "datadream": {k: dd[k] for k in ("mode", "rank", "alpha", "lr", "epochs", "batch_size", "prompt")}}
    generate_shard(pipe, plan, sm.output[0], gen, attrs, adapter=LoraSwitch(pipe, folders))
