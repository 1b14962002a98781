# CLIP filter (CF): which synthetic images to keep, scored by clip_filter.backbone (the paper: always RN50).


rule clip_filter:
    input:
        features=f"{WORK}/{{dataset}}/features/{CF_BACKBONE}/syn-{{strategy}}.h5",
        head=f"{WORK}/{{dataset}}/heads/{CF_BACKBONE}.pt",
        images=f"{WORK}/{{dataset}}/synthetic/{{strategy}}/images.h5",
        model_manifest=clip_manifest(CF_BACKBONE),
    output:
        f"{WORK}/{{dataset}}/synthetic/{{strategy}}/cf.h5",
    log:
        log_path("clip_filter", "{dataset}-{strategy}"),
    conda:
        "../envs/synrec.yaml"
    params:
        clip_filter=config["clip_filter"],
        seed=config["seed"],
    script:
        "../scripts/clip_filter.py"
