"""Rule strategies_table: results/strategies.csv (+ .md): the few-shot methods and strategies under one protocol
(the same shots, seeds, CLIP and test images), with their image budgets and the device-hours of their own jobs."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.cost import job_hours
from synrec.results import load_results
from synrec.runlog import rule_log
from synrec.tables import few_shot_summary, strategies_rows, synthetic_used, write_table

sm = snakemake  # noqa: F821
with rule_log(sm.log, "strategies_table"):
    p = sm.params
    summary = few_shot_summary(sm.input.fewshot)
    zeroshot = {ds: record for (ds, _, _), record in load_results(sm.input.zeroshot).items()}
    shots = sorted({k for (_, _, k) in summary})
    hours = {}
    for m, per_dataset in p.benchmarks.items():
        for d, per_shots in per_dataset.items():
            for k, seeds in per_shots.items():
                h = job_hours(seeds)
                hours[(m, d, int(k))] = "/" if h is None else f"{h:.4g} ({p.device})"
    header, rows = strategies_rows(summary, zeroshot, p.datasets, p.methods, shots, p.syn_per_class, hours,
                                   synthetic_used(sm.input.fewshot))
    title = (f"Few-shot strategies under one protocol, CLIP-{p.backbone}: top-1 (%) mean ± std over the split seeds "
             "[95 % interval: seeds, then test images, resampled]; own device-hours: the wall-clock hours of the "
             "jobs a method runs beyond the features all share, mean over seeds, model loading included, on the "
             "device named (0: it runs on cached features); synthetic used: the images per class it trained on, "
             "fewer than the budget where a filter (DISEF's) dropped some")
    write_table(sm.output.csv, header, rows, title, p.note)
