"""Does the CLIP filter keep the right images? Read a finished run's synthetic features under a second CLIP and report
how often that second model recognises the images CF kept as their prompted class, against the images CF dropped.

    python tools/cf_cross_check.py work/demo demo_shapes LE --judge ViT-B-16

CF scores with one backbone (``clip_filter.backbone``, RN50 by default); the judge is another backbone whose features
of the same store exist (``features/<judge>/syn-<strategy>.h5``) with its text head (``heads/<judge>.pt``). Prints one
line per class and the totals. A diagnostic, not a rule: the two models can share the same blind spots.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synrec.classifier_tuning import ClassifierHead  # noqa: E402
from synrec.errors import SynrecError  # noqa: E402
from synrec.stores import read_features  # noqa: E402


def cross_check(work: Path, dataset: str, strategy: str, judge: str) -> dict:
    """``{classname: (kept recognised, kept, dropped recognised, dropped)}`` plus ``"all"``."""
    root = Path(work) / dataset
    cf_file = root / "synthetic" / strategy / "cf.h5"
    feats = root / "features" / judge / f"syn-{strategy}.h5"
    for p in (cf_file, feats, root / "heads" / f"{judge}.pt"):
        if not p.exists():
            raise SynrecError(f"{p} not found: run the workflow's zero-shot chain for {dataset} with {judge} first")
    x, y, parts = read_features(feats)
    with h5py.File(cf_file, "r") as f:
        if f.attrs["images"] != parts["images"]:
            raise SynrecError(f"{cf_file} filtered other images than {feats} holds")
        kept = np.zeros(len(y), dtype=bool)
        kept[f["keep"][:]] = True
    head = torch.load(root / "heads" / f"{judge}.pt", weights_only=True)
    with torch.no_grad():
        right = ClassifierHead(head["class_emb"], head["logit_scale"])(torch.as_tensor(x)).argmax(1).numpy() == y
    out = {}
    for c, name in enumerate(head["classnames"]):
        m = y == c
        out[name] = (int(right[m & kept].sum()), int((m & kept).sum()), int(right[m & ~kept].sum()),
                     int((m & ~kept).sum()))
    out["all"] = (int(right[kept].sum()), int(kept.sum()), int(right[~kept].sum()), int((~kept).sum()))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work_dir", type=Path)
    ap.add_argument("dataset")
    ap.add_argument("strategy", help="B or LE")
    ap.add_argument("--judge", default="ViT-B-16", help="the other backbone (default ViT-B-16)")
    args = ap.parse_args(argv)
    try:
        res = cross_check(args.work_dir, args.dataset, args.strategy, args.judge)
    except SynrecError as e:
        raise SystemExit(f"synrec: {e}") from None
    print(f"{args.dataset} {args.strategy}: recognised as their class by {args.judge}")
    for name, (kr, k, dr, d) in res.items():
        rate = lambda a, b: f"{100 * a / b:5.1f}% of {b:3d}" if b else "   -         "  # noqa: E731
        print(f"  {name:24s} kept {rate(kr, k)}   dropped {rate(dr, d)}")


if __name__ == "__main__":
    main()
