# CLIP filter (CF): which synthetic images to keep, scored by clip_filter.backbone (the paper: always RN50).

CF_BACKBONE = config["clip_filter"]["backbone"]


rule clip_filter:
    input:
        features=f"{W}/{{dataset}}/features/{CF_BACKBONE}/syn-{{strategy}}.h5",
        head=f"{W}/{{dataset}}/heads/{CF_BACKBONE}.pt",
    output:
        f"{W}/{{dataset}}/synthetic/{{strategy}}/cf.h5",
    params:
        clip_filter=config["clip_filter"],
        seed=config["seed"],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("clip_filter", "{dataset}-{strategy}"),
    script:
        "../scripts/clip_filter.py"
