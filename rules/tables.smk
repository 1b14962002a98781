# The paper's Tables 1 and 2 from the per-run result JSONs.


rule table1:
    input:
        expand(
            f"{RESULTS}/zeroshot/{{dataset}}/{{backbone}}/{{variant}}.json",
            dataset=list(DATASETS),
            backbone=BACKBONES,
            variant=["CLIP", TABLE1_VARIANT],
        ),
    output:
        csv=report(f"{RESULTS}/table1.csv", caption="../workflow/report/table1.rst", category="Zero-shot"),
        md=f"{RESULTS}/table1.md",
        png=report(f"{RESULTS}/table1.png", caption="../workflow/report/table1.rst", category="Zero-shot"),
    log:
        log_path("table1", "table1"),
    conda:
        "../envs/synrec.yaml"
    params:
        datasets=[DATASETS[d] for d in DATASETS],
        backbones=BACKBONES,
        variant=TABLE1_VARIANT,
        note=config["results_note"],
    script:
        "../scripts/table1.py"


rule generators_table:
    input:
        expand(
            f"{RESULTS}/zeroshot/{{dataset}}/{GT_BACKBONE}/{{run}}.json",
            dataset=GT_DATASETS,
            run=gt_runs(),
        ),
    output:
        csv=report(f"{RESULTS}/generators.csv", caption="../workflow/report/generators.rst", category="Generators"),
        md=f"{RESULTS}/generators.md",
        png=report(f"{RESULTS}/generators.png", caption="../workflow/report/generators.rst", category="Generators"),
    log:
        log_path("generators_table", "generators"),
    conda:
        "../envs/synrec.yaml"
    params:
        datasets=[DATASETS[d] for d in GT_DATASETS],
        generators=gt_titles(),
        variant=GT["variant"],
        backbone=GT_BACKBONE,
        benchmarks=gt_benchmarks(),
        images=gt_images(),
        device=config["device"],
        note=config["results_note"],
    script:
        "../scripts/generators_table.py"


rule table2:
    input:
        expand(
            f"{RESULTS}/zeroshot/{{dataset}}/{config['table2']['backbone']}/{{variant}}.json",
            dataset=TABLE2_DATASETS,
            variant=["CLIP", "B-CE", "B-SCE", "LE-CE", "LE-SCE", "LE+CF-CE", "LE+CF-SCE"],
        ),
    output:
        csv=report(f"{RESULTS}/table2.csv", caption="../workflow/report/table2.rst", category="Zero-shot"),
        md=f"{RESULTS}/table2.md",
    log:
        log_path("table2", "table2"),
    conda:
        "../envs/synrec.yaml"
    params:
        datasets=[DATASETS[d] for d in TABLE2_DATASETS],
        backbone=config["table2"]["backbone"],
        note=config["results_note"],
    script:
        "../scripts/table2.py"


rule table3:
    input:
        zeroshot=f"{RESULTS}/zeroshot/{T3['dataset']}/{T3['backbone']}/CLIP.json",
        runs=[f"{RESULTS}/param_share/{T3['dataset']}/{T3['backbone']}/{lv}.json" for lv in T3["levels"]],
    output:
        csv=report(f"{RESULTS}/table3.csv", caption="../workflow/report/table3.rst", category="Zero-shot"),
        md=f"{RESULTS}/table3.md",
    log:
        log_path("table3", "table3"),
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=DATASETS.get(T3["dataset"]),
        table3={k: T3[k] for k in ("backbone", "data", "loss")},
        note=config["results_note"],
    script:
        "../scripts/table3.py"


rule table4:
    input:
        syn=f"{RESULTS}/scratch/{T4['dataset']}/{T4['model']}/syn.json",
        real=[f"{RESULTS}/scratch/{T4['dataset']}/{T4['model']}/real-{k}.json" for k in T4["real_per_class"]],
    output:
        csv=report(f"{RESULTS}/table4.csv", caption="../workflow/report/table4.rst", category="Zero-shot"),
        md=f"{RESULTS}/table4.md",
    log:
        log_path("table4", "table4"),
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=DATASETS.get(T4["dataset"]),
        table4={k: T4[k] for k in ("model", "data", "syn_per_class")},
        note=config["results_note"],
    script:
        "../scripts/table4.py"
