"""``python -m synrec.datasets``: a dataset's own class names, or ``--check``: which configured datasets are present,
complete and readable, with the command that fetches a missing one (from :mod:`synrec.prepare`, which the readers
do not import)."""

from __future__ import annotations

from ..errors import SynrecError
from ..prepare import how_to_get
from .checks import check_dataset, splits_in_use
from .formats import disk_classnames


def _check_main(args) -> int:
    from ..config import check_config_files, load_dataset_config

    workflow = check_config_files(args.configfile)
    names = args.names or workflow["datasets"]
    data_root = args.data_root or workflow["data_root"]
    bad = 0
    for name in names:
        try:
            cfg = load_dataset_config(name, args.config_dir)
        except SynrecError as exc:
            print(f"{name:<16} INVALID     {exc}")
            bad += 1
            continue
        res = check_dataset(cfg, data_root, splits_in_use(cfg, workflow))
        counts = ", ".join(f"{k} {v:,}" for k, v in res["counts"].items())
        print(f"{name:<16} {res['status'].upper():<11} {counts}")
        for problem in res["problems"]:
            print(f"{'':<16} {'':<11} - {problem}")
        if res["status"] != "ok":
            bad += 1
            print(f"{'':<16} {'':<11}   fix: {how_to_get(cfg, data_root)}; config/README.md 'Datasets on disk'")
    print(f"synrec: {len(names) - bad} of {len(names)} datasets present, complete and readable")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m synrec.datasets NAME``: print the dataset's own class names as a ``disk_classnames:`` block.
    ``python -m synrec.datasets --check [NAME...]``: for each configured (or named) dataset, say whether it is
    present, complete and readable, split by split, and what is wrong."""
    import argparse

    import yaml

    from ..config import load_dataset_config

    ap = argparse.ArgumentParser(prog="python -m synrec.datasets", description=main.__doc__)
    ap.add_argument("names", nargs="*", help="dataset names (config/datasets/<name>.yaml)")
    ap.add_argument("--check", action="store_true", help="check the datasets on disk (default: the configured ones)")
    ap.add_argument("--configfile", nargs="*", default=[], help="workflow config files, as given to snakemake")
    ap.add_argument("--config-dir", default="config/datasets")
    ap.add_argument("--data-root", default=None, help="default: the workflow config's data_root")
    ap.add_argument("--split", default=None)
    args = ap.parse_args(argv)
    try:
        if args.check:
            return _check_main(args)
        if len(args.names) != 1:
            ap.error("name one dataset (or use --check)")
        cfg = load_dataset_config(args.names[0], args.config_dir)
        names = disk_classnames(cfg, args.data_root or "data", args.split)
    except SynrecError as exc:
        raise SystemExit(f"synrec: {exc}") from None
    print(yaml.safe_dump({"disk_classnames": names}, sort_keys=False, allow_unicode=True), end="")
    return 0
