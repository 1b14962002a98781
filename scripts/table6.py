"""Rule table6: results/table6.csv (+ .md): frozen BN vs BN in train mode, real shots and synthetic images."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.runlog import rule_log
from synrec.tables import few_shot_summary, table6_rows, write_table

sm = snakemake  # noqa: F821
with rule_log(sm.log, "table6"):
    t6 = sm.params.table6
    ds = sm.params.dataset
    header, rows = table6_rows(few_shot_summary(sm.input), ds, t6["shots"])
    title = (f"Table 6: {t6['shots']}-shot top-1 (%) on {ds['title']}, image-level CT through the frozen CLIP "
             f"ResNet, BN in train mode or frozen; Syn = {t6['synthetic']} images")
    write_table(sm.output.csv, header, rows, title, sm.params.note)
