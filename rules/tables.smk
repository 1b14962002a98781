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
