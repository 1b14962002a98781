# Prompts per class: B (class name in the generation template) or LE (T5 word-to-sentence, seeded).


rule prompts:
    input:
        model=lambda w: model_manifest("word_to_sentence") if w.strategy == "LE" else [],
    output:
        f"{WORK}/{{dataset}}/prompts/{{strategy}}.json",
    log:
        log_path("prompts", "{dataset}-{strategy}"),
    conda:
        "../envs/synrec.yaml"
    params:
        dataset=lambda w: CLASS_LISTS[w.dataset],  # a dataset, or a class list of a pre-training label space
        # only what changes the prompts: B prompts do not depend on the T5 model or the LE settings
        le=lambda w: config["le"] if w.strategy == "LE" else None,
        model=lambda w: config["models"]["word_to_sentence"] if w.strategy == "LE" else None,
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/prompts.py"
