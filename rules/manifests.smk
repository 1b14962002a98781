# Content manifests (synrec.manifest): one JSON per model and per real split, made here the first time and
# refreshed by every run (rules/common.smk), so that rules rerun when a model's or a split's content changes.
# `run:` rather than a script: Snakemake reruns a script rule's outputs that are older than its script, and a
# manifest adopted for content already on disk is dated at that content's time, on purpose.


rule model_manifest:
    input:
        lambda w: made_model_folder(w.role),
    output:
        f"{MANIFESTS}/model/{{role}}/{{key}}.json",
    log:
        log_path("model_manifest", "{role}-{key}"),
    wildcard_constraints:
        role=_alternatives(model_roles()),
        key="[0-9a-f]{12}",
    params:
        spec=lambda w: synrec_manifest_run.spec_of(model_roles(), w.role, w.key),
    run:
        write_manifest(output[0], log[0], lambda: synrec_manifest.model_manifest(params.spec))


rule data_manifest:
    input:
        lambda w: made_dataset_folder(w.dataset),
    output:
        f"{MANIFESTS}/data/{{dataset}}/{{source}}.json",
    log:
        log_path("data_manifest", "{dataset}-{source}"),
    wildcard_constraints:
        source="|".join(REAL_SOURCES),
    params:
        dataset=lambda w: dataset_config(w.dataset),
        data_root=config["data_root"],
        split=lambda w: real_split(w.dataset, w.source),
    run:
        write_manifest(
            output[0], log[0], lambda: synrec_manifest.data_manifest(params.dataset, params.data_root, params.split)
        )
