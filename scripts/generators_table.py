"""Rule generators_table: results/generators.csv (+ .md, + .png): zero-shot CLIP against CLIP+SYN on each configured
generator's images, the same protocol for all, with the device-hours per 1,000 images the run's generation jobs took."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.cost import generation_hours_per_1k
from synrec.plots import plot_generators
from synrec.results import load_results
from synrec.runlog import rule_log
from synrec.tables import generators_rows, write_table

sm = snakemake  # noqa: F821
with rule_log(sm.log, "generators_table"):
    p = sm.params
    results = {(ds, variant): r for (ds, _, variant), r in load_results(sm.input).items()}
    generators = [(None if g == "default" else g, title) for g, title in p.generators]
    hours = {}  # {(generator, dataset or None for all): cell}
    for g, _ in generators:
        bench, images = p.benchmarks[g or "default"], p.images[g or "default"]
        for d in [*bench, None]:
            files = bench[d] if d else [f for fs in bench.values() for f in fs]
            h = generation_hours_per_1k(files, images[d] if d else sum(images.values()))
            hours[(g, d)] = "/" if h is None else f"{h:.4g} ({p.device})"
    header, rows = generators_rows(results, p.datasets, generators, p.variant, hours)
    title = (f"Generators: zero-shot top-1 (%), CLIP-{p.backbone}, CLIP+SYN = {p.variant} on each generator's images; "
             "[95 % interval]: test images resampled, paired for the gains; h/1k img: wall-clock hours of the "
             "generation jobs per 1,000 images, model loading included, on the device named")
    write_table(sm.output.csv, header, rows, title, p.note)
    plot_generators(results, p.datasets, generators, p.variant, sm.output.png, p.note)
