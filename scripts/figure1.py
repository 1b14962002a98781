"""Rule figure1: results/figure1.png and the CSV behind it (accuracy vs shots per method and dataset)."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.atomic import write_text
from synrec.plots import plot_figure1
from synrec.results import load_results
from synrec.runlog import rule_log
from synrec.tables import few_shot_summary, figure1_rows, to_csv

sm = snakemake  # noqa: F821
with rule_log(sm.log, "figure1"):
    summary = few_shot_summary(sm.input.fewshot)
    zeroshot = {ds: record for (ds, _, _), record in load_results(sm.input.zeroshot).items()}
    header, rows = figure1_rows(summary, zeroshot, sm.params.datasets)
    write_text(sm.output.csv, to_csv(header, rows))
    plot_figure1(summary, zeroshot, sm.params.datasets, sm.output.png, sm.params.note)
