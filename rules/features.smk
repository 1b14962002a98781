# CLIP image features, once per (dataset, source, backbone), and the zero-shot text classifier per backbone.


rule features:
    input:
        images=feature_images,
        model=lambda w: clip_manifest(w.backbone),
    output:
        f"{WORK}/{{dataset}}/features/{{backbone}}/{{source}}.h5",
    log:
        log_path("features", "{dataset}-{backbone}-{source}"),
    benchmark:
        benchmark_path("features", "{dataset}-{backbone}-{source}")
    conda:
        "../envs/synrec.yaml"
    threads: max(1, config["features"]["num_workers"])
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        split=lambda w: real_split(w.dataset, w.source),
        model=lambda w: clip_spec(w.backbone),
        device=config["device"],
    script:
        "../scripts/features.py"


rule text_head:
    input:
        model=lambda w: clip_manifest(w.backbone),
    output:
        f"{WORK}/{{dataset}}/heads/{{backbone}}.pt",
    log:
        log_path("text_head", "{dataset}-{backbone}"),
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: DATASETS[w.dataset],
        model=lambda w: clip_spec(w.backbone),
        device=config["device"],
    script:
        "../scripts/text_head.py"
