"""Rule table1: results/table1.csv (+ .md) in the shape of the paper's Table 1."""
import _synrec_path  # noqa: F401  (repository root on sys.path)
from synrec.results import load_accuracies
from synrec.tables import table1_rows, write_table
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
with rule_log(sm.log, "table1"):
    header, rows = table1_rows(load_accuracies(sm.input), sm.params.datasets, sm.params.backbones, sm.params.variant)
    write_table(sm.output.csv, header, rows, f"Table 1: zero-shot top-1 (%), CLIP+SYN = {sm.params.variant}")
