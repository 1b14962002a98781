# Text-to-image generation: one job per group of classes (generation.classes_per_job), merged into one HDF5
# image store per (dataset, strategy).


rule generate:
    input:
        prompts=f"{W}/{{dataset}}/prompts/{{strategy}}.json",
        model=model_input(config["models"]["text_to_image"]),
    output:
        temp(f"{W}/{{dataset}}/synthetic/{{strategy}}/shards/{{chunk}}.h5"),
    wildcard_constraints:
        strategy="B|LE",
    params:
        generation=image_settings(),
        model=config["models"]["text_to_image"],
        seed=config["seed"],
        device=config["device"],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("generate", "{dataset}-{strategy}-{chunk}"),
    script:
        "../scripts/generate.py"


rule merge_images:
    input:
        lambda w: expand(
            f"{W}/{w.dataset}/synthetic/{w.strategy}/shards/{{chunk}}.h5", chunk=generation_chunks(w.dataset, w.strategy)
        ),
    output:
        f"{W}/{{dataset}}/synthetic/{{strategy}}/images.h5",
    params:
        dataset=lambda w: DATASETS[w.dataset],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("merge_images", "{dataset}-{strategy}"),
    script:
        "../scripts/merge_images.py"
