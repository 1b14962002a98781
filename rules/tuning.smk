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
