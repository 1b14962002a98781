# CLIP image features, once per (dataset, source, backbone), and the zero-shot text classifier per backbone.


rule features:
    input:
        images=feature_images,
        model=lambda w: model_input(clip_spec(w.backbone)),
    output:
        f"{W}/{{dataset}}/features/{{backbone}}/{{source}}.h5",
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        split=lambda w: {"train": FS["train_split"], "val": FS["val_split"]}.get(w.source, DATASETS[w.dataset]["test_split"]),
        model=lambda w: clip_spec(w.backbone),
        device=config["device"],
    threads: max(1, config["features"]["num_workers"])
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("features", "{dataset}-{backbone}-{source}"),
    script:
        "../scripts/features.py"


rule text_head:
    input:
        model=lambda w: model_input(clip_spec(w.backbone)),
    output:
        f"{W}/{{dataset}}/heads/{{backbone}}.pt",
    params:
        dataset=lambda w: DATASETS[w.dataset],
        model=lambda w: clip_spec(w.backbone),
        device=config["device"],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("text_head", "{dataset}-{backbone}"),
    script:
        "../scripts/text_head.py"
