"""Rule prompts: B or LE prompts for every class of one dataset -> JSON."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec import prompts
from synrec.atomic import write_json
from synrec.models import load_word_to_sentence, model_identity, pick_device
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
with rule_log(sm.log, f"prompts {sm.wildcards.dataset} {sm.wildcards.strategy}"):
    ds, strategy, seed = sm.params.dataset, sm.wildcards.strategy, sm.params.seed
    record = {"dataset": ds["name"], "strategy": strategy, "seed": seed, "classnames": ds["classnames"]}
    if strategy == "B":
        record["prompts"] = prompts.basic_prompts(ds)
    else:
        tok, model = load_word_to_sentence(sm.params.model, pick_device(sm.params.device))
        record["prompts"], record["n_unique"] = prompts.le_prompts(ds, tok, model, sm.params.le, seed)
        record["model"] = model_identity(sm.params.model)
        dtype = str(model.dtype).replace("torch.", "")
        if dtype != "float32":  # (float32 leaves the record, and so existing runs, as they were)
            record["dtype"] = dtype
        print(f"unique sentences per class: min {min(record['n_unique'])}, max {max(record['n_unique'])}")
    write_json(sm.output[0], record)
