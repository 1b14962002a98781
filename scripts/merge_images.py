"""Rule merge_images: per-class shards -> one HDF5 image store per (dataset, strategy)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.runlog import rule_log
from synrec.stores import merge_shards, safety_counts

sm = snakemake  # noqa: F821
with rule_log(sm.log, f"merge_images {sm.wildcards.dataset} {sm.wildcards.strategy}"):
    ds = sm.params.dataset
    fp = merge_shards(list(sm.input), sm.output[0],
                      {"dataset": ds["name"], "strategy": sm.wildcards.strategy, "classnames": ds["classnames"]})
    print(f"{len(sm.input)} shards merged, fingerprint {fp}")
    counts = safety_counts(sm.output[0])
    if counts["flagged_dropped"] or counts["regenerated"]:
        print(f"warning: the safety checker blanked images: {counts['regenerated']} generated again with a fresh "
              f"seed, {counts['flagged_dropped']} left out of {sm.output[0]}")
