"""Rule tiny_model: build one demo model (CLIP RN/ViT, Stable Diffusion, T5, captioner) in its library's own save
format, trained briefly on the drawn world (0 steps: random weights)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import torch

from synrec import demo_data, demo_models, tiny
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821  (injected by Snakemake)
with rule_log(sm.log, f"tiny_model {sm.wildcards.kind}"):
    torch.set_num_threads(max(1, sm.threads))
    kind, out, seed, steps = sm.wildcards.kind, sm.output[0], sm.params.seed, sm.params.training

    def progress(*args):
        *stage, step, loss = args
        if step % 50 == 0:
            print(f"{' '.join(stage) or kind} step {step}: loss {loss:.4f}", flush=True)

    if kind.startswith("clip-"):
        arch = kind.split("-", 1)[1]
        if steps["clip_steps"]:
            demo_models.train_demo_clip(out, arch, seed, steps=steps["clip_steps"], progress=progress)
        else:
            tiny.build_tiny_clip(out, arch=arch, seed=seed)
    elif kind == "stable-diffusion":
        if steps["unet_steps"] or steps["vae_steps"]:
            demo_models.train_demo_stable_diffusion(out, sm.input.clip, seed, vae_steps=steps["vae_steps"],
                                                    unet_steps=steps["unet_steps"], progress=progress)
        else:
            tiny.build_tiny_stable_diffusion(out, seed=seed)
    elif kind == "captioner":
        if steps["captioner_steps"]:
            demo_models.train_demo_captioner(out, seed, steps=steps["captioner_steps"], progress=progress)
        else:
            tiny.build_tiny_captioner(out, extra_words=demo_data.WORLD_WORDS, seed=seed)
    elif steps["t5_steps"]:
        demo_models.train_demo_t5(out, demo_data.WORLD_WORDS, seed, steps=steps["t5_steps"], progress=progress)
    else:
        tiny.build_tiny_t5(out, extra_words=demo_data.WORLD_WORDS, seed=seed)
