"""Rule table4: results/table4.csv (+ .md): from scratch on real subsets (K per class) and on synthetic images."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

from synrec.runlog import rule_log
from synrec.tables import table4_rows, write_table

sm = snakemake  # noqa: F821
with rule_log(sm.log, "table4"):
    t4, ds = sm.params.table4, sm.params.dataset
    syn = json.loads(Path(sm.input.syn).read_text())
    real = [json.loads(Path(p).read_text()) for p in sm.input.real]
    header, rows = table4_rows(syn, real)
    title = (f"Table 4: top-1 (%) on {ds['title']} of {t4['model']} trained from scratch on K real images per "
             f"class, and on {t4['syn_per_class']} {t4['data']} synthetic images per class")
    write_table(sm.output.csv, header, rows, title, sm.params.note)
