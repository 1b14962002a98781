"""Rule pretrain_table: results/table8.csv ... table11.csv (+ .md) in the paper's shape: rows = pre-training data
and IN-1k initialisation, columns = synthetic image amounts."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

import json
from pathlib import Path

from synrec.runlog import rule_log
from synrec.tables import pretraining_rows, write_table

sm = snakemake  # noqa: F821
with rule_log(sm.log, sm.wildcards.pttable):
    t = sm.params.table
    results = [json.loads(Path(p).read_text()) for p in sm.input]
    header, rows = pretraining_rows(t, sm.params.cells, results)
    metric = "top-1 (%)" if t["transfer"] == "cifar" else "AP50"
    spaces = "; ".join(f"{s} = {' + '.join(names)}" for s, names in sm.params.lists.items())
    title = (f"Table {sm.wildcards.pttable.removeprefix('table')}: {t.get('title', '')} - {metric} after transfer, "
             f"{t['model']}, {t['method']} pre-training on synthetic LE images ({spaces})")
    write_table(sm.output.csv, header, rows, title, sm.params.note)
