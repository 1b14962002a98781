"""Rule table1: results/table1.csv (+ .md, + .png) in the shape of the paper's Table 1."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.plots import plot_table1
from synrec.results import load_results
from synrec.runlog import rule_log
from synrec.tables import table1_rows, write_table

sm = snakemake  # noqa: F821
with rule_log(sm.log, "table1"):
    p = sm.params
    results = load_results(sm.input)
    header, rows = table1_rows(results, p.datasets, p.backbones, p.variant)
    title = (f"Table 1: zero-shot top-1 (%), CLIP+SYN = {p.variant}; [95 % interval]: test images resampled, "
             "paired for the gains")
    write_table(sm.output.csv, header, rows, title, p.note)
    plot_table1(results, p.datasets, p.backbones, p.variant, sm.output.png, p.note)
