# Classifier tuning (CT) on synthetic features, and zero-shot CLIP, each evaluated on the real test split.


rule classifier_tuning:
    input:
        unpack(ct_inputs),
    output:
        f"{RESULTS}/zeroshot/{{dataset}}/{{backbone}}/{{data}}-{{loss}}.json",
    log:
        log_path("classifier_tuning", "{dataset}-{backbone}-{data}-{loss}"),
    conda:
        "../envs/synrec.yaml"
    params:
        ct=config["ct"],
        sce=config["sce"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/classifier_tuning.py"


rule zeroshot_clip:
    input:
        test=zeroshot_test_features,
        head=f"{WORK}/{{dataset}}/heads/{{backbone}}.pt",
        model_manifest=lambda w: clip_manifest(w.backbone),
        test_manifest=lambda w: data_manifest(w.dataset, zeroshot_test_source(w.dataset)),
    output:
        f"{RESULTS}/zeroshot/{{dataset}}/{{backbone}}/CLIP.json",
    log:
        log_path("zeroshot_clip", "{dataset}-{backbone}"),
    conda:
        "../envs/synrec.yaml"
    params:
        seed=config["seed"],
    script:
        "../scripts/zeroshot_clip.py"


# Table 3: a growing share of the CLIP ResNet image encoder tuned with the head on synthetic images (image-level).


rule partial_tuning:
    input:
        unpack(partial_tuning_inputs),
    output:
        f"{RESULTS}/param_share/{{dataset}}/{{backbone}}/{{level}}.json",
    log:
        log_path("partial_tuning", "{dataset}-{backbone}-{level}"),
    benchmark:
        benchmark_path("partial_tuning", "{dataset}-{backbone}-{level}")
    conda:
        "../envs/synrec.yaml"
    threads: max(1, config["features"]["num_workers"])
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        model=lambda w: clip_spec(w.backbone),
        tuning={**config["ct"], "epochs": table3_epochs(config), "lr_encoder": T3["lr_encoder"]},
        loss=T3["loss"],
        data=T3["data"],
        sce=config["sce"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/partial_tuning.py"


# Table 4: a timm model from random initialisation on synthetic images, or on real subsets of K images per class.


rule from_scratch:
    input:
        unpack(from_scratch_inputs),
    output:
        f"{RESULTS}/scratch/{{dataset}}/{T4['model']}/{{tsource}}.json",
    log:
        log_path("from_scratch", "{dataset}-{tsource}"),
    benchmark:
        benchmark_path("from_scratch", "{dataset}-{tsource}")
    conda:
        "../envs/synrec.yaml"
    threads: max(1, T4["num_workers"])
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        train_split=FS["train_split"],
        training={
            k: v for k, v in T4.items() if k not in ("dataset", "real_per_class", "num_workers", "checkpoint_every")
        },
        work_dir=WORK,
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/from_scratch.py"
