"""Which of the paper's effects the demo resolves: each effect as a difference of two result sets on the same test
images, with its paired 95 % interval (synrec.intervals: seeds resampled apart, images resampled together), and
whether the interval excludes 0. Given two results folders (say, one run with the CPU kernels pinned to AVX2 and one
with the host's own), it says for each effect whether both runs agree on it.

    .venv/bin/python bench/demo_effects.py results                       # after make demo
    .venv/bin/python bench/demo_effects.py results-avx2 results-host     # the same effects in two runs

An effect is "resolved" where the interval lies wholly on the side the paper predicts, "against" where it lies
wholly on the other side, and "noise" where it contains 0. The README states only what is resolved in every run.
"""

import json
from pathlib import Path

import numpy as np
from _bench import parser

from synrec.intervals import correct_of, delta_interval

ZS, FS, BN, SCR = "zeroshot", "fewshot/demo_shapes/RN50", "frozen_bn/demo_shapes/RN50", "scratch/demo_cifar/resnet10t"
SEEDS = (1, 2)


def fs(method, shots):
    return [f"{FS}/{shots}shot-seed{s}/{method}.json" for s in SEEDS]


#: (effect, the paper's side, the other side): the first should be the higher
EFFECTS = [
    ("Table 1: CLIP+SYN > CLIP, ViT, Demo-Shapes", [f"{ZS}/demo_shapes/ViT-B-16/LE+CF-SCE.json"],
     [f"{ZS}/demo_shapes/ViT-B-16/CLIP.json"]),
    ("Table 1: CLIP+SYN > CLIP, ViT, Demo-CIFAR", [f"{ZS}/demo_cifar/ViT-B-16/LE+CF-SCE.json"],
     [f"{ZS}/demo_cifar/ViT-B-16/CLIP.json"]),
    ("Table 1: CLIP+SYN > CLIP, RN50, Demo-Shapes", [f"{ZS}/demo_shapes/RN50/LE+CF-SCE.json"],
     [f"{ZS}/demo_shapes/RN50/CLIP.json"]),
    ("Table 1: CLIP+SYN > CLIP, RN50, Demo-CIFAR", [f"{ZS}/demo_cifar/RN50/LE+CF-SCE.json"],
     [f"{ZS}/demo_cifar/RN50/CLIP.json"]),
    *[(f"Table 2: LE+CF-{loss} > B-{loss}, RN50, {title}", [f"{ZS}/{d}/RN50/LE+CF-{loss}.json"],
       [f"{ZS}/{d}/RN50/B-{loss}.json"]) for d, title in (("demo_shapes", "Demo-Shapes"), ("demo_cifar", "Demo-CIFAR"))
      for loss in ("CE", "SCE")],
    *[(f"Table 2: {data}-SCE > {data}-CE, RN50, {title}", [f"{ZS}/{d}/RN50/{data}-SCE.json"],
       [f"{ZS}/{d}/RN50/{data}-CE.json"]) for d, title in (("demo_shapes", "Demo-Shapes"), ("demo_cifar", "Demo-CIFAR"))
      for data in ("B", "LE", "LE+CF")],
    *[(f"Generators: trained SD > random SD3 stand-in (LE+CF-SCE, RN50), {title}",
       [f"{ZS}/{d}/RN50/LE+CF-SCE.json"], [f"{ZS}/{d}/RN50/LE@sd3+CF-SCE.json"])
      for d, title in (("demo_shapes", "Demo-Shapes"), ("demo_cifar", "Demo-CIFAR"))],
    ("Table 4: 16 synthetic/class > 1 real/class (from scratch)", [f"{SCR}/syn.json"], [f"{SCR}/real-1.json"]),
    *[(f"Figure 1: {name}, 4 shots > 1 shot", fs(m, 4), fs(m, 1))
      for m, name in (("ct-init", "CT w. init"), ("tip", "Tip-Adapter"), ("tip-f", "Tip-Adapter-F"), ("coop", "CoOp"),
                      ("mix-RG", "CT w. Syn"))],
    *[(f"Figure 1: CT w. Syn > {name}, {k} shot(s)", fs("mix-RG", k), fs(m, k))
      for k in (1, 4) for m, name in (("ct-init", "CT w. init"), ("tip", "Tip-Adapter"), ("coop", "CoOp"))],
    ("Table 5: RG > B (4 shots, mix)", fs("mix-RG", 4), fs("mix-B", 4)),
    ("Table 5: RF > B (4 shots, mix)", fs("mix-RF", 4), fs("mix-B", 4)),
    ("Table 6: frozen BN > BN train, real shots", [f"{BN}/4shot-seed{s}/real-bn-frozen.json" for s in SEEDS],
     [f"{BN}/4shot-seed{s}/real-bn-train.json" for s in SEEDS]),
    ("Table 6: frozen BN > BN train, LE+CF images", [f"{BN}/4shot-seed1/syn-bn-frozen.json"],
     [f"{BN}/4shot-seed1/syn-bn-train.json"]),
    *[(f"Table 7: mix > {name}, {k} shot(s)", fs("mix-RG", k), fs(m, k))
      for k in (1, 4) for m, name in (("syn2real-RG", "syn->real"), ("real2syn-RG", "real->syn"))],
    # issue 29: CLIP-LoRA (a peer) beside the paper's methods; the paper makes no claim on these, the "paper's side"
    # here is the peer's published one (CLIP-LoRA gains from shots and beats zero-shot CLIP and CoOp)
    *[(f"Strategies: CLIP-LoRA > zero-shot CLIP, {k} shot(s)", fs("clip-lora", k),
       [f"{ZS}/demo_shapes/RN50/CLIP.json"]) for k in (1, 4)],
    ("Strategies: CLIP-LoRA, 4 shots > 1 shot", fs("clip-lora", 4), fs("clip-lora", 1)),
    *[(f"Strategies: CLIP-LoRA > CoOp, {k} shot(s)", fs("clip-lora", k), fs("coop", k)) for k in (1, 4)],
    *[(f"Strategies: CLIP-LoRA w. Syn (RG) > CLIP-LoRA, {k} shot(s)", fs("clip-lora-RG", k), fs("clip-lora", k))
      for k in (1, 4)],
    *[(f"Strategies: CLIP-LoRA w. Syn > CT w. Syn (mix-RG), {k} shot(s)", fs("clip-lora-RG", k), fs("mix-RG", k))
      for k in (1, 4)],
    ("Strategies: DataDream, 4 shots > 1 shot", fs("clip-lora-DD", 4), fs("clip-lora-DD", 1)),
    *[(f"Strategies: DataDream > CLIP-LoRA, {k} shot(s)", fs("clip-lora-DD", k), fs("clip-lora", k)) for k in (1, 4)],
    *[(f"Strategies: DataDream > CT w. Syn (mix-RG), {k} shot(s)", fs("clip-lora-DD", k), fs("mix-RG", k))
      for k in (1, 4)],
    # DISEF's published side: its images help CLIP-LoRA beyond the shots alone; DataDream reports beating DISEF
    ("Strategies: DISEF, 4 shots > 1 shot", fs("clip-lora-DISEF", 4), fs("clip-lora-DISEF", 1)),
    *[(f"Strategies: DISEF > CLIP-LoRA, {k} shot(s)", fs("clip-lora-DISEF", k), fs("clip-lora", k)) for k in (1, 4)],
    *[(f"Strategies: DISEF > CT w. Syn (mix-RG), {k} shot(s)", fs("clip-lora-DISEF", k), fs("mix-RG", k))
      for k in (1, 4)],
    *[(f"Strategies: DataDream > DISEF, {k} shot(s)", fs("clip-lora-DD", k), fs("clip-lora-DISEF", k))
      for k in (1, 4)],
]


def load(root: Path, paths: list[str]):
    records = [json.loads((root / p).read_text()) for p in paths]
    bits = [correct_of(r) for r in records]
    if any(b is None for b in bits):
        raise SystemExit(f"{root}: {paths[0]} has no per-image bits (a result made before they were kept)")
    return float(np.mean([r["metrics"]["acc1"] for r in records])), np.stack(bits)


def verdict(lo: float, hi: float) -> str:
    return "resolved" if lo > 0 else "against" if hi < 0 else "noise"


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("results", nargs="+", type=Path, help="results folders of demo runs")
    args = ap.parse_args()
    present = [e for e in EFFECTS if all((r / p).is_file() for r in args.results for p in e[1] + e[2])]
    if not present:
        raise SystemExit(f"no demo result files under {', '.join(map(str, args.results))} (run make demo first)")
    width = max(len(e[0]) for e in present)
    print(f"{'effect':{width}s}  " + "  ".join(f"{str(r):>34s}" for r in args.results) + "  verdict")
    agree = resolved = 0
    for name, a, b in present:
        cells, verdicts = [], []
        for root in args.results:
            (acc_a, bits_a), (acc_b, bits_b) = load(root, a), load(root, b)
            lo, hi = delta_interval(bits_a, bits_b)
            verdicts.append(verdict(lo, hi))
            cells.append(f"{acc_a - acc_b:+6.2f} [{lo:+6.2f}, {hi:+6.2f}] {verdicts[-1]:>8s}")
        same = verdicts[0] if len(set(verdicts)) == 1 else "differ"
        agree += same != "differ"
        resolved += same == "resolved"
        print(f"{name:{width}s}  " + "  ".join(f"{c:>34s}" for c in cells) + f"  {same}")
    print(f"{len(present)} effects; the runs agree on {agree}; resolved in every run: {resolved}")


if __name__ == "__main__":
    main()
