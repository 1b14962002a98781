# Sec. 3.3: synthetic pre-training data (LE images over a label space, generated per class group and image block),
# pre-training (supervised or MoCo v2, on all the GPUs a job gets), transfer to CIFAR-100 and PASCAL VOC, Tables 8-11.


rule generate_pretrain:
    input:
        prompts=f"{WORK}/{{classlist}}/prompts/LE.json",
        model=model_manifest("text_to_image"),
    output:
        f"{WORK}/pretrain/{{classlist}}/shards/{{block}}.h5",
    log:
        log_path("generate_pretrain", "{classlist}-{block}"),
    benchmark:
        benchmark_path("generate_pretrain", "{classlist}-{block}")
    conda:
        "../envs/synrec.yaml"
    params:
        generation=image_settings(),
        images_per_class=lambda w: pt_max_per_class(w.classlist),
        split=PT["generation"],
        model=config["models"]["text_to_image"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/generate_pretrain.py"


rule pretrain:
    input:
        unpack(pretrain_inputs),
    output:
        f"{WORK}/pretrain/models/{{ptmethod}}/{{ptmodel}}/{{space}}/{{amount}}/{{init}}.pt",
    log:
        log_path("pretrain", "{ptmethod}-{ptmodel}-{space}-{amount}-{init}"),
    benchmark:
        benchmark_path("pretrain", "{ptmethod}-{ptmodel}-{space}-{amount}-{init}")
    conda:
        "../envs/synrec.yaml"
    threads: max(1, PT["num_workers"])
    params:
        lists=lambda w: [(name, offset, pt_shards(name)) for name, offset in pt_space_lists(w.space)],
        n_classes=lambda w: pt_n_classes(w.space),
        per_class=lambda w: pt_per_class(w.space, w.amount),
        settings=lambda w: pretrain_settings(w.ptmethod, w.ptmodel),
        kwargs=lambda w: PT["model_kwargs"].get(w.ptmodel, {}),
        init=lambda w: in1k_spec(w.ptmethod, w.ptmodel) if w.init == "in1k" else None,
        num_workers=PT["num_workers"],
        checkpoint_every=PT["checkpoint_every"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/pretrain.py"


rule transfer_cifar:
    input:
        unpack(transfer_inputs),
        data=lambda w: dataset_dir_of(PT_CIFAR),
    output:
        f"{RESULTS}/transfer/cifar/{{ptmodel}}/{{ptmethod}}/{{space}}/{{amount}}/{{init}}.json",
    log:
        log_path("transfer_cifar", "{ptmodel}-{ptmethod}-{space}-{amount}-{init}"),
    benchmark:
        benchmark_path("transfer_cifar", "{ptmodel}-{ptmethod}-{space}-{amount}-{init}")
    conda:
        "../envs/synrec.yaml"
    threads: max(1, PT["num_workers"])
    params:
        dataset=PT_CIFAR,
        data_root=config["data_root"],
        train_split=FS["train_split"],
        settings=lambda w: PT["cifar"]["train"][w.ptmodel],
        kwargs=lambda w: PT["model_kwargs"].get(w.ptmodel, {}),
        init=transfer_init,
        num_workers=PT["num_workers"],
        checkpoint_every=PT["checkpoint_every"],
        work_dir=WORK,
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/transfer.py"


rule transfer_voc:
    input:
        unpack(transfer_inputs),
        data=str(Path(config["data_root"]) / PT["voc"]["root"]),
    output:
        f"{RESULTS}/transfer/voc/{{ptmodel}}/{{ptmethod}}/{{space}}/{{amount}}/{{init}}.json",
    log:
        log_path("transfer_voc", "{ptmodel}-{ptmethod}-{space}-{amount}-{init}"),
    benchmark:
        benchmark_path("transfer_voc", "{ptmodel}-{ptmethod}-{space}-{amount}-{init}")
    conda:
        "../envs/synrec.yaml"
    threads: max(1, PT["num_workers"])
    params:
        settings={k: v for k, v in PT["voc"].items() if k not in ("root", "train", "test")},
        train_sets=PT["voc"]["train"],
        test_set=PT["voc"]["test"],
        kwargs=lambda w: PT["model_kwargs"].get(w.ptmodel, {}),
        init=transfer_init,
        num_workers=PT["num_workers"],
        checkpoint_every=PT["checkpoint_every"],
        work_dir=WORK,
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/transfer.py"


rule pretrain_table:
    input:
        lambda w: [transfer_result(w.pttable, *cell) for cell in pt_cells(w.pttable)],
    output:
        csv=report(f"{RESULTS}/{{pttable}}.csv", caption="../workflow/report/pretraining.rst", category="Pre-training"),
        md=f"{RESULTS}/{{pttable}}.md",
    log:
        log_path("pretrain_table", "{pttable}"),
    wildcard_constraints:
        pttable=_alternatives(PT_TABLES) or "^$",
    conda:
        "../envs/synrec.yaml"
    params:
        table=lambda w: PT_TABLES[w.pttable],
        cells=lambda w: pt_cells(w.pttable),
        lists=lambda w: {s: [CLASS_LISTS[n]["title"] for n in PT["label_spaces"][s]] for s in PT["label_spaces"]},
        note=config["results_note"],
    script:
        "../scripts/table_pretraining.py"
