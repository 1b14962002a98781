"""Rule demo_dataset: write a made-up dataset in the on-disk format its config names."""
import _synrec_path  # noqa: F401  (repository root on sys.path)

from synrec import demo_data
from synrec.runlog import rule_log

sm = snakemake  # noqa: F821
with rule_log(sm.log, f"demo_dataset {sm.wildcards.demo_root}"):
    cfg, demo = sm.params.dataset, sm.params.demo
    counts = {"train": demo["train_per_class"], "val": demo["val_per_class"], "test": demo["test_per_class"]}
    names = cfg.get("disk_classnames") or cfg["classnames"]
    if cfg["format"] == "cifar":
        variant = "cifar10" if len(names) <= 10 else "cifar100"
        demo_data.write_cifar(sm.output[0], names, counts, seed=sm.params.seed, variant=variant)
    elif cfg["format"] == "coop_split":
        demo_data.write_coop_split(sm.output[0], names, counts, cfg["split_file"], images=cfg["images"],
                                   seed=sm.params.seed)
    else:
        demo_data.write_imagefolder(sm.output[0], names, counts, seed=sm.params.seed)
