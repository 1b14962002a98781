"""Rule table7: results/table7.csv (+ .md): phase-wise vs mix training on RG data, per shot count."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.runlog import rule_log
from synrec.tables import few_shot_summary, table7_rows, write_table

sm = snakemake  # noqa: F821
with rule_log(sm.log, "table7"):
    ds = sm.params.dataset
    header, rows = table7_rows(few_shot_summary(sm.input), ds, sorted(sm.params.shots))
    title = f"Table 7: few-shot top-1 (%) on {ds['title']}, RG synthetic data"
    write_table(sm.output.csv, header, rows, title, sm.params.note)
