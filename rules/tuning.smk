# Classifier tuning (CT) on synthetic features, and zero-shot CLIP, each evaluated on the real test split.


rule classifier_tuning:
    input:
        unpack(ct_inputs),
    output:
        f"{R}/zeroshot/{{dataset}}/{{backbone}}/{{data}}-{{loss}}.json",
    params:
        ct=config["ct"],
        sce=config["sce"],
        seed=config["seed"],
        device=config["device"],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("classifier_tuning", "{dataset}-{backbone}-{data}-{loss}"),
    script:
        "../scripts/classifier_tuning.py"


rule zeroshot_clip:
    input:
        test=f"{W}/{{dataset}}/features/{{backbone}}/test.h5",
        head=f"{W}/{{dataset}}/heads/{{backbone}}.pt",
    output:
        f"{R}/zeroshot/{{dataset}}/{{backbone}}/CLIP.json",
    params:
        seed=config["seed"],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("zeroshot_clip", "{dataset}-{backbone}"),
    script:
        "../scripts/zeroshot_clip.py"


# Table 3: a growing share of the CLIP ResNet image encoder tuned with the head on synthetic images (image-level).
T3 = config["table3"]


rule partial_tuning:
    input:
        unpack(partial_tuning_inputs),
    output:
        f"{R}/param_share/{{dataset}}/{{backbone}}/{{level}}.json",
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        model=lambda w: clip_spec(w.backbone),
        tuning={**config["ct"], "lr_encoder": T3["lr_encoder"]},
        loss=T3["loss"],
        data=T3["data"],
        sce=config["sce"],
        seed=config["seed"],
        device=config["device"],
    threads: max(1, config["features"]["num_workers"])
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("partial_tuning", "{dataset}-{backbone}-{level}"),
    script:
        "../scripts/partial_tuning.py"


# Table 4: a timm model from random initialisation on synthetic images, or on real subsets of K images per class.
T4 = config["table4"]


rule from_scratch:
    input:
        unpack(from_scratch_inputs),
    output:
        f"{R}/scratch/{{dataset}}/{T4['model']}/{{tsource}}.json",
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        train_split=FS["train_split"],
        training={k: v for k, v in T4.items() if k not in ("dataset", "real_per_class", "num_workers", "checkpoint_every")},
        work_dir=W,
        seed=config["seed"],
        device=config["device"],
    threads: max(1, T4["num_workers"])
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("from_scratch", "{dataset}-{tsource}"),
    script:
        "../scripts/from_scratch.py"
