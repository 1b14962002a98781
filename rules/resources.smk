# Things the workflow makes itself for the demo and the tests: tiny random-weight models and made-up datasets.

DEMO_ROOTS = {Path(dataset_dir(d)).name: d for d in DEMO.get("datasets", [])}


rule tiny_model:
    output:
        directory("resources/tiny/{kind}"),
    wildcard_constraints:
        kind="clip-RN|clip-ViT|stable-diffusion|t5",
    params:
        words=sorted({w for d in DATASETS.values() for c in d["classnames"] for w in c.lower().split()}),
        seed=config["seed"],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("tiny_model", "{kind}"),
    script:
        "../scripts/build_tiny_model.py"


rule demo_dataset:
    output:
        directory(f"{config['data_root']}/{{demo_root}}"),
    wildcard_constraints:
        demo_root=_alternatives(DEMO_ROOTS) if DEMO_ROOTS else "^$",
    params:
        dataset=lambda w: DATASETS[DEMO_ROOTS[w.demo_root]],
        demo=DEMO,
        seed=config["seed"],
    conda:
        "../envs/synrec.yaml"
    log:
        log_path("demo_dataset", "{demo_root}"),
    script:
        "../scripts/demo_dataset.py"
