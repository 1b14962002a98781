# The paper's Tables 1 and 2 from the per-run result JSONs.

VARIANT = config["table1"]["variant"]


rule table1:
    input:
        expand(f"{R}/zeroshot/{{dataset}}/{{backbone}}/{{variant}}.json", dataset=list(DATASETS),
               backbone=BACKBONES, variant=["CLIP", VARIANT]),
    output:
        csv=report(f"{R}/table1.csv", caption="../workflow/report/table1.rst", category="Zero-shot"),
        md=f"{R}/table1.md",
        png=report(f"{R}/table1.png", caption="../workflow/report/table1.rst", category="Zero-shot"),
    params:
        datasets=[DATASETS[d] for d in DATASETS],
        backbones=BACKBONES,
        variant=VARIANT,
        note=config["results_note"],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("table1", "table1"),
    script:
        "../scripts/table1.py"


rule table2:
    input:
        expand(f"{R}/zeroshot/{{dataset}}/{config['table2']['backbone']}/{{variant}}.json",
               dataset=TABLE2_DATASETS, variant=["CLIP", "B-CE", "B-SCE", "LE-CE", "LE-SCE", "LE+CF-CE", "LE+CF-SCE"]),
    output:
        csv=report(f"{R}/table2.csv", caption="../workflow/report/table2.rst", category="Zero-shot"),
        md=f"{R}/table2.md",
    params:
        datasets=[DATASETS[d] for d in TABLE2_DATASETS],
        backbone=config["table2"]["backbone"],
        note=config["results_note"],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("table2", "table2"),
    script:
        "../scripts/table2.py"


rule table3:
    input:
        zeroshot=f"{R}/zeroshot/{T3['dataset']}/{T3['backbone']}/CLIP.json",
        runs=[f"{R}/param_share/{T3['dataset']}/{T3['backbone']}/{lv}.json" for lv in T3["levels"]],
    output:
        csv=report(f"{R}/table3.csv", caption="../workflow/report/table3.rst", category="Zero-shot"),
        md=f"{R}/table3.md",
    params:
        dataset=DATASETS.get(T3["dataset"]),
        note=config["results_note"],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("table3", "table3"),
    script:
        "../scripts/table3.py"


rule table4:
    input:
        syn=f"{R}/scratch/{T4['dataset']}/{T4['model']}/syn.json",
        real=[f"{R}/scratch/{T4['dataset']}/{T4['model']}/real-{k}.json" for k in T4["real_per_class"]],
    output:
        csv=report(f"{R}/table4.csv", caption="../workflow/report/table4.rst", category="Zero-shot"),
        md=f"{R}/table4.md",
    params:
        dataset=DATASETS.get(T4["dataset"]),
        note=config["results_note"],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("table4", "table4"),
    script:
        "../scripts/table4.py"
