"""Rule table5: results/table5.csv (+ .md): B vs RF vs RG, mix training, mean +- std over seeds."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.runlog import rule_log
from synrec.tables import few_shot_summary, table5_rows, write_table

sm = snakemake  # noqa: F821
with rule_log(sm.log, "table5"):
    header, rows = table5_rows(few_shot_summary(sm.input), sm.params.dataset, sm.params.shots)
    title = "Table 5: few-shot top-1 (%) with B (LE+CF), RF and RG synthetic data, mix training"
    write_table(sm.output.csv, header, rows, title, sm.params.note)
