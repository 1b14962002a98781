# Things the workflow makes itself for the demo and the tests: tiny random-weight models and made-up datasets.


rule tiny_model:
    """Demo only: a small CLIP (RN, ViT), Stable Diffusion, T5 or captioner (BLIP), trained briefly on drawn pictures
    (synrec.demo_models; demo_models: in the config), in its library's own save format."""
    input:
        clip=lambda w: "resources/tiny/clip-RN" if w.kind == "stable-diffusion" else [],
    output:
        directory("resources/tiny/{kind}"),
    log:
        log_path("tiny_model", "{kind}"),
    benchmark:
        benchmark_path("tiny_model", "{kind}")
    wildcard_constraints:
        kind="clip-RN|clip-ViT|stable-diffusion|t5|captioner",
    priority: 50  # Stable Diffusion's training is the demo's critical path: start the models first
    conda:
        "../envs/synrec.yaml"
    threads: 1
    params:
        training=lambda w: demo_training(w.kind),  # this model's steps only: another's change retrains nothing
        seed=config["seed"],
    script:
        "../scripts/build_tiny_model.py"


rule tiny_generator:
    """Demo and tests: a random-weight stand-in of a text-to-image family after SD 1.x (sdxl, sd3, flux, pixart),
    built from that family's own diffusers classes (synrec.tiny_generators), in diffusers' folder layout."""
    output:
        directory("resources/tiny/gen-{family}"),
    log:
        log_path("tiny_generator", "{family}"),
    wildcard_constraints:
        family="sdxl|sd3|flux|pixart",
    conda:
        "../envs/synrec.yaml"
    params:
        seed=config["seed"],
    script:
        "../scripts/build_tiny_generator.py"


rule demo_dataset:
    output:
        directory(f"{config['data_root']}/{{demo_root}}"),
    log:
        log_path("demo_dataset", "{demo_root}"),
    wildcard_constraints:
        demo_root=_alternatives(demo_roots()) if demo_roots() else "^$",
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: dataset_config(demo_roots()[w.demo_root]),
        demo={k: v for k, v in DEMO.items() if k != "voc"},
        seed=config["seed"],
    script:
        "../scripts/demo_dataset.py"


rule tiny_in1k:
    """Demo only: random-weight stand-ins for "IN-1k" weights, saved as checkpoint files (MoCo ones in the official
    MoCo checkpoint's key layout), so the loading code runs as it would on real weights."""
    output:
        "resources/tiny/in1k/{ptmethod}-{ptmodel}.pt",
    log:
        log_path("tiny_in1k", "{ptmethod}-{ptmodel}"),
    conda:
        "../envs/synrec.yaml"
    params:
        kwargs=lambda w: PT["model_kwargs"].get(w.ptmodel, {}),
        seed=config["seed"],
    script:
        "../scripts/build_tiny_in1k.py"


rule demo_voc:
    """Demo only: a made-up detection set (coloured rectangles) in torchvision's VOCdevkit layout."""
    output:
        directory(f"{config['data_root']}/{{voc_root}}"),
    log:
        log_path("demo_voc", "{voc_root}"),
    wildcard_constraints:
        voc_root=re.escape(PT["voc"]["root"]) if DEMO.get("voc") else "^$",
    conda:
        "../envs/synrec.yaml"
    params:
        voc=PT["voc"],
        demo=DEMO.get("voc"),
        seed=config["seed"],
    script:
        "../scripts/demo_voc.py"
