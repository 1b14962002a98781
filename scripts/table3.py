"""Rule table3: results/table3.csv (+ .md): share of the CLIP ResNet tuned on synthetic data vs test accuracy."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

from synrec.runlog import rule_log
from synrec.tables import table3_rows, write_table

sm = snakemake  # noqa: F821
with rule_log(sm.log, "table3"):
    t3, ds = sm.params.table3, sm.params.dataset
    zeroshot = json.loads(Path(sm.input.zeroshot).read_text())
    runs = [json.loads(Path(p).read_text()) for p in sm.input.runs]
    header, rows = table3_rows(zeroshot, runs)
    title = (f"Table 3: top-1 (%) on {ds['title']} against the share of CLIP-{t3['backbone']} parameters tuned on "
             f"{t3['data']} synthetic images ({t3['loss']}, BN frozen); 0 = zero-shot")
    write_table(sm.output.csv, header, rows, title, sm.params.note)
