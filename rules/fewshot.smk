# The few-shot study (Sec. 3.2): shots per (K, seed), real filtering, real guidance, the methods, Tables 5/7, Fig. 1.


rule few_shot_split:
    input:
        train=lambda w: data_manifest(w.dataset, "train"),
        val=lambda w: data_manifest(w.dataset, "val") if has_val_split(w.dataset) else [],
    output:
        f"{WORK}/{{dataset}}/fewshot/split-{{shots}}shot-seed{{fseed}}.json",
    log:
        log_path("few_shot_split", "{dataset}-{shots}shot-seed{fseed}"),
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        train_split=FS["train_split"],
        val_split=lambda w: FS["val_split"] if has_val_split(w.dataset) else None,
        sampler=FS["sampler"],
    script:
        "../scripts/few_shot_split.py"


rule shot_features:
    """Tip-Adapter's cache: CLIP features of augment_passes augmented views of the K shots of one (K, seed)."""
    input:
        split=f"{WORK}/{{dataset}}/fewshot/split-{{shots}}shot-seed{{fseed}}.json",
        train_manifest=lambda w: data_manifest(w.dataset, "train"),
        model=lambda w: clip_manifest(w.backbone),
    output:
        f"{WORK}/{{dataset}}/fewshot/{{backbone}}/views-{{shots}}shot-seed{{fseed}}.h5",
    log:
        log_path("shot_features", "{dataset}-{backbone}-{shots}shot-seed{fseed}"),
    benchmark:
        benchmark_path("shot_features", "{dataset}-{backbone}-{shots}shot-seed{fseed}")
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        train_split=FS["train_split"],
        passes=FS["tip_adapter"]["augment_passes"],
        model=lambda w: clip_spec(w.backbone),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/shot_features.py"


rule real_guidance:
    input:
        split=f"{WORK}/{{dataset}}/fewshot/split-{{shots}}shot-seed{{fseed}}.json",
        prompts=f"{WORK}/{{dataset}}/prompts/B.json",
        train_manifest=lambda w: data_manifest(w.dataset, "train"),
        model=model_manifest("text_to_image"),
    output:
        temp(f"{WORK}/{{dataset}}/synthetic/RG-{{shots}}shot-seed{{fseed}}/shards/{{chunk}}.h5"),
    log:
        log_path("real_guidance", "{dataset}-{shots}shot-seed{fseed}-{chunk}"),
    benchmark:
        benchmark_path("real_guidance", "{dataset}-{shots}shot-seed{fseed}-{chunk}")
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        train_split=FS["train_split"],
        real_guidance=FS["real_guidance"],
        generation=image_settings(),
        model=config["models"]["text_to_image"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/real_guidance.py"


rule datadream_lora:
    """DataDream: LoRA adapters on the generator (UNet and text encoder) trained on the shots, one per class of a
    group of classes (mode per_class), or one on every class's shots (per_dataset: chunk 00000 only)."""
    input:
        split=f"{WORK}/{{dataset}}/fewshot/split-{{shots}}shot-seed{{fseed}}.json",
        train_manifest=lambda w: data_manifest(w.dataset, "train"),
        model=model_manifest("text_to_image"),
    output:
        directory(f"{WORK}/{{dataset}}/fewshot/datadream/{{shots}}shot-seed{{fseed}}/lora-{{chunk}}"),
    log:
        log_path("datadream_lora", "{dataset}-{shots}shot-seed{fseed}-{chunk}"),
    benchmark:
        benchmark_path("datadream_lora", "{dataset}-{shots}shot-seed{fseed}-{chunk}")
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        train_split=FS["train_split"],
        datadream=FS["datadream"],
        generation=image_settings("DD-"),
        model=config["models"]["text_to_image"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/datadream_lora.py"


rule datadream_generate:
    """DataDream's images of a group of classes: each class from the generator with its LoRA on."""
    input:
        lora=lambda w: datadream_lora_dir(w),
        model=model_manifest("text_to_image"),
    output:
        temp(f"{WORK}/{{dataset}}/synthetic/DD-{{shots}}shot-seed{{fseed}}/shards/{{chunk}}.h5"),
    log:
        log_path("datadream_generate", "{dataset}-{shots}shot-seed{fseed}-{chunk}"),
    benchmark:
        benchmark_path("datadream_generate", "{dataset}-{shots}shot-seed{fseed}-{chunk}")
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: DATASETS[w.dataset],
        datadream=FS["datadream"],
        generation=image_settings("DD-"),
        model=config["models"]["text_to_image"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/datadream_generate.py"


rule captions:
    """DISEF: a caption of each shot of one (K, seed) by the image-to-text model (models.captioner)."""
    input:
        split=f"{WORK}/{{dataset}}/fewshot/split-{{shots}}shot-seed{{fseed}}.json",
        train_manifest=lambda w: data_manifest(w.dataset, "train"),
        model=model_manifest("captioner"),
    output:
        f"{WORK}/{{dataset}}/fewshot/captions-{{shots}}shot-seed{{fseed}}.json",
    log:
        log_path("captions", "{dataset}-{shots}shot-seed{fseed}"),
    benchmark:
        benchmark_path("captions", "{dataset}-{shots}shot-seed{fseed}")
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        train_split=FS["train_split"],
        captioning=FS["disef"]["captioning"],
        model=config["models"]["captioner"],
        device=config["device"],
    script:
        "../scripts/captions.py"


rule disef_generate:
    """DISEF's images of a group of classes: img2img from each shot, prompted with that shot's caption."""
    input:
        split=f"{WORK}/{{dataset}}/fewshot/split-{{shots}}shot-seed{{fseed}}.json",
        captions=f"{WORK}/{{dataset}}/fewshot/captions-{{shots}}shot-seed{{fseed}}.json",
        train_manifest=lambda w: data_manifest(w.dataset, "train"),
        model=model_manifest("text_to_image"),
    output:
        temp(f"{WORK}/{{dataset}}/synthetic/DISEF-{{shots}}shot-seed{{fseed}}/shards/{{chunk}}.h5"),
    log:
        log_path("disef_generate", "{dataset}-{shots}shot-seed{fseed}-{chunk}"),
    benchmark:
        benchmark_path("disef_generate", "{dataset}-{shots}shot-seed{fseed}-{chunk}")
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        train_split=FS["train_split"],
        disef={k: FS["disef"][k] for k in ("images_per_class", "strength", "classes_per_job", "prompt")},
        generation=image_settings("DISEF-"),
        model=config["models"]["text_to_image"],
        captioner=config["models"]["captioner"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/disef_generate.py"


rule disef_filter:
    """DISEF's filter: keep the images zero-shot CLIP (the few-shot backbone) assigns to their own class."""
    input:
        features=f"{WORK}/{{dataset}}/features/{FS['backbone']}/syn-DISEF-{{shots}}shot-seed{{fseed}}.h5",
        images=f"{WORK}/{{dataset}}/synthetic/DISEF-{{shots}}shot-seed{{fseed}}/images.h5",
        head=f"{WORK}/{{dataset}}/heads/{FS['backbone']}.pt",
        model_manifest=clip_manifest(FS["backbone"]),
    output:
        f"{WORK}/{{dataset}}/synthetic/DISEF-{{shots}}shot-seed{{fseed}}/keep.h5",
    log:
        log_path("disef_filter", "{dataset}-{shots}shot-seed{fseed}"),
    conda:
        "../envs/synrec.yaml"
    params:
        enabled=FS["disef"]["filter"],
    script:
        "../scripts/disef_filter.py"


rule real_filter:
    input:
        syn=f"{WORK}/{{dataset}}/features/{FS['backbone']}/syn-LE.h5",
        keep=f"{WORK}/{{dataset}}/synthetic/LE/cf.h5",
        train=f"{WORK}/{{dataset}}/features/{FS['backbone']}/train.h5",
        split=f"{WORK}/{{dataset}}/fewshot/split-{{shots}}shot-seed{{fseed}}.json",
        images=f"{WORK}/{{dataset}}/synthetic/LE/images.h5",
        model_manifest=clip_manifest(FS["backbone"]),
        train_manifest=lambda w: data_manifest(w.dataset, "train"),
    output:
        f"{WORK}/{{dataset}}/fewshot/rf-{{shots}}shot-seed{{fseed}}.h5",
    log:
        log_path("real_filter", "{dataset}-{shots}shot-seed{fseed}"),
    conda:
        "../envs/synrec.yaml"
    params:
        margin=FS["real_filter"]["margin"],
    script:
        "../scripts/real_filter.py"


rule few_shot_train:
    input:
        unpack(fewshot_inputs),
    output:
        f"{RESULTS}/fewshot/{{dataset}}/{{backbone}}/{{shots}}shot-seed{{fseed}}/{{method}}.json",
    log:
        log_path("few_shot_train", "{dataset}-{backbone}-{shots}shot-seed{fseed}-{method}"),
    conda:
        "../envs/synrec.yaml"
    params:
        few_shot={k: FS[k] for k in ("mix", "ct_real", "tip_adapter")},  # what the methods read
        sce=config["sce"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/few_shot_train.py"


rule coop:
    input:
        split=f"{WORK}/{{dataset}}/fewshot/split-{{shots}}shot-seed{{fseed}}.json",
        train=f"{WORK}/{{dataset}}/features/{{backbone}}/train.h5",
        test=f"{WORK}/{{dataset}}/features/{{backbone}}/test.h5",
        head=f"{WORK}/{{dataset}}/heads/{{backbone}}.pt",
        model=lambda w: clip_manifest(w.backbone),
        train_manifest=lambda w: data_manifest(w.dataset, "train"),
        test_manifest=lambda w: data_manifest(w.dataset, "test"),
    output:
        f"{RESULTS}/fewshot/{{dataset}}/{{backbone}}/{{shots}}shot-seed{{fseed}}/coop.json",
    log:
        log_path("coop", "{dataset}-{backbone}-{shots}shot-seed{fseed}"),
    benchmark:
        benchmark_path("coop", "{dataset}-{backbone}-{shots}shot-seed{fseed}")
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: DATASETS[w.dataset],
        model=lambda w: clip_spec(w.backbone),
        coop=FS["coop"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/coop.py"


rule clip_lora:
    """CLIP-LoRA: peft adapters on the attention of both CLIP encoders, trained on the shots (and, for
    clip-lora-RG / -DD / -DISEF, on synthetic images beside them); tested by re-encoding the test split."""
    input:
        unpack(clip_lora_inputs),
    output:
        result=f"{RESULTS}/fewshot/{{dataset}}/{{backbone}}/{{shots}}shot-seed{{fseed}}/{{clmethod}}.json",
        adapters=directory(f"{WORK}/{{dataset}}/fewshot/{{backbone}}/{{clmethod}}-{{shots}}shot-seed{{fseed}}"),
    log:
        log_path("clip_lora", "{dataset}-{backbone}-{shots}shot-seed{fseed}-{clmethod}"),
    benchmark:
        benchmark_path("clip_lora", "{dataset}-{backbone}-{shots}shot-seed{fseed}-{clmethod}")
    conda:
        "../envs/synrec.yaml"
    threads: max(1, config["features"]["num_workers"])
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        train_split=FS["train_split"],
        model=lambda w: clip_spec(w.backbone),
        clip_lora=clip_lora_settings,
        synthetic=lambda w: CLIP_LORA_METHODS[w.clmethod],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/clip_lora.py"


rule table5:
    input:
        fewshot_results([FS["table5"]["dataset"]], ["mix-B", "mix-RF", "mix-RG"], [FS["table5"]["shots"]]),
    output:
        csv=report(f"{RESULTS}/table5.csv", caption="../workflow/report/table5.rst", category="Few-shot"),
        md=f"{RESULTS}/table5.md",
    log:
        log_path("table5", "table5"),
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=DATASETS.get(FS["table5"]["dataset"]),
        shots=FS["table5"]["shots"],
        note=config["results_note"],
    script:
        "../scripts/table5.py"


rule table7:
    input:
        fewshot_results([FS["table7"]["dataset"]], ["syn2real-RG", "real2syn-RG", "mix-RG"]),
    output:
        csv=report(f"{RESULTS}/table7.csv", caption="../workflow/report/table7.rst", category="Few-shot"),
        md=f"{RESULTS}/table7.md",
    log:
        log_path("table7", "table7"),
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=DATASETS.get(FS["table7"]["dataset"]),
        shots=FS["shots"],
        note=config["results_note"],
    script:
        "../scripts/table7.py"


rule figure1:
    input:
        fewshot=fewshot_results(FS_DATASETS, ["ct-init", "tip", "tip-f", "coop", "mix-RG", *CLIP_LORA_METHODS]),
        zeroshot=[f"{RESULTS}/zeroshot/{d}/{FS['backbone']}/CLIP.json" for d in FS_DATASETS],
    output:
        png=report(f"{RESULTS}/figure1.png", caption="../workflow/report/figure1.rst", category="Few-shot"),
        csv=report(f"{RESULTS}/figure1.csv", caption="../workflow/report/figure1.rst", category="Few-shot"),
    log:
        log_path("figure1", "figure1"),
    conda:
        "../envs/synrec.yaml"
    params:
        datasets=[DATASETS[d] for d in FS_DATASETS],
        note=config["results_note"],
    script:
        "../scripts/figure1.py"


rule strategies_table:
    """results/strategies.csv (+ .md): the few-shot ways of using real shots and a generator, under one protocol, with
    their image budgets and the device-hours of each method's own jobs."""
    input:
        fewshot=fewshot_results(FS_DATASETS, STRATEGY_METHODS),
        zeroshot=[f"{RESULTS}/zeroshot/{d}/{FS['backbone']}/CLIP.json" for d in FS_DATASETS],
    output:
        csv=report(f"{RESULTS}/strategies.csv", caption="../workflow/report/strategies.rst", category="Few-shot"),
        md=f"{RESULTS}/strategies.md",
    log:
        log_path("strategies_table", "strategies"),
    conda:
        "../envs/synrec.yaml"
    params:
        datasets=[DATASETS[d] for d in FS_DATASETS],
        methods=STRATEGY_METHODS,
        benchmarks=strategy_benchmarks(),
        syn_per_class={
            **{m: FS["real_guidance"]["images_per_class"] for m in STRATEGY_METHODS if m.endswith("-RG")},
            "clip-lora-DD": FS["datadream"]["images_per_class"],
            "clip-lora-DISEF": FS["disef"]["images_per_class"],  # generated; its filter keeps fewer
        },
        backbone=FS["backbone"],
        device=config["device"],
        note=config["results_note"],
    script:
        "../scripts/strategies_table.py"


rule frozen_bn:
    input:
        unpack(frozen_bn_inputs),
    output:
        f"{RESULTS}/frozen_bn/{{dataset}}/{{backbone}}/{{shots}}shot-seed{{fseed}}/{{tdata}}-{{bn}}.json",
    log:
        log_path("frozen_bn", "{dataset}-{backbone}-{shots}shot-seed{fseed}-{tdata}-{bn}"),
    benchmark:
        benchmark_path("frozen_bn", "{dataset}-{backbone}-{shots}shot-seed{fseed}-{tdata}-{bn}")
    conda:
        "../envs/synrec.yaml"
    threads: max(1, config["features"]["num_workers"])
    params:
        dataset=lambda w: DATASETS[w.dataset],
        data_root=config["data_root"],
        train_split=FS["train_split"],
        model=lambda w: clip_spec(w.backbone),
        tuning=lambda w: frozen_bn_settings(w.tdata),
        synthetic=FS["table6"]["synthetic"],
        sce=config["sce"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/frozen_bn.py"


rule table6:
    input:
        frozen_bn_results(),
    output:
        csv=report(f"{RESULTS}/table6.csv", caption="../workflow/report/table6.rst", category="Few-shot"),
        md=f"{RESULTS}/table6.md",
    log:
        log_path("table6", "table6"),
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=DATASETS.get(FS["table6"]["dataset"]),
        table6={k: FS["table6"][k] for k in ("shots", "synthetic")},
        note=config["results_note"],
    script:
        "../scripts/table6.py"
