"""Rule table2: results/table2.csv (+ .md) in the shape of the paper's Table 2 (B/LE/LE+CF x CE/SCE)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.results import load_results
from synrec.runlog import rule_log
from synrec.tables import table2_rows, write_table

sm = snakemake  # noqa: F821
with rule_log(sm.log, "table2"):
    p = sm.params
    header, rows = table2_rows(load_results(sm.input), p.datasets, p.backbone)
    title = (f"Table 2: zero-shot top-1 (%), CLIP-{p.backbone}; [95 % interval]: test images resampled, paired for "
             "the gains")
    write_table(sm.output.csv, header, rows, title, p.note)
