"""Rule demo_voc: a made-up detection dataset (coloured rectangles) in torchvision's VOCdevkit layout."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec.demo_data import write_voc
from synrec.detection import VOC_CLASSES
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
with rule_log(sm.log, f"demo_voc {sm.wildcards.voc_root}"):
    demo, voc = sm.params.demo, sm.params.voc
    sets = {name: demo["train_images"] for _, name in voc["train"]} | {voc["test"][1]: demo["test_images"]}
    years = {y for y, _ in voc["train"]} | {voc["test"][0]}
    if len(years) != 1:
        raise SystemExit(f"demo_voc: the demo writes one VOC year, the config names {sorted(years)}")
    write_voc(sm.output[0], VOC_CLASSES[: demo["classes"]], sets, year=years.pop(), size=demo["size"],
              seed=sm.params.seed)
