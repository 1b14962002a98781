# Text-to-image generation: one job per group of classes (generation.classes_per_job), merged into one HDF5
# image store per (dataset, strategy).


rule generate:
    input:
        prompts=lambda w: f"{WORK}/{w.dataset}/prompts/{split_strategy(w.strategy)[0]}.json",
        model=lambda w: model_manifest(generator_role(w.strategy)),
    output:
        temp(f"{WORK}/{{dataset}}/synthetic/{{strategy}}/shards/{{chunk}}.h5"),
    log:
        log_path("generate", "{dataset}-{strategy}-{chunk}"),
    benchmark:
        benchmark_path("generate", "{dataset}-{strategy}-{chunk}")
    wildcard_constraints:
        strategy=f"(B|LE){AT_GENERATOR}",
    conda:
        "../envs/synrec.yaml"
    params:
        generation=lambda w: image_settings(w.strategy),
        model=lambda w: generator_spec(w.strategy),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/generate.py"


rule merge_images:
    input:
        lambda w: expand(
            f"{WORK}/{w.dataset}/synthetic/{w.strategy}/shards/{{chunk}}.h5",
            chunk=generation_chunks(w.dataset, w.strategy),
        ),
    output:
        f"{WORK}/{{dataset}}/synthetic/{{strategy}}/images.h5",
    log:
        log_path("merge_images", "{dataset}-{strategy}"),
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: DATASETS[w.dataset],
        # the shards are temp: a text-to-image model named anew (its own manifest, synrec.manifest) reruns the merge,
        # and so the generation, through this param
        model=lambda w: generator_spec(w.strategy),
    script:
        "../scripts/merge_images.py"
