"""What pinning the CPU kernels to AVX2 (the demo's ``cpu_isa: avx2``, synrec/cpu_isa.py) costs on this machine, and
whether it changes what is learnt: the demo CLIP-RN's training (the longest single-threaded job of the demo's model
build but one), run in two fresh processes side by side, with the host's own kernels and pinned to AVX2.

    .venv/bin/python bench/cpu_isa_cost.py [--steps 100]

Prints each side's seconds and kernels (PyTorch's CPU capability), the ratio, and whether the two trained models are
bitwise equal (they are not where the host offers more than AVX2: the kernels round differently, which is why the
demo pins them).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _bench import parser, ratio

from synrec.cpu_isa import PINS

CHILD = """
import hashlib, sys, time, torch
torch.set_num_threads(1)
from synrec.demo_models import train_demo_clip
t0 = time.perf_counter()
out = train_demo_clip(sys.argv[1], "RN", seed=0, steps=int(sys.argv[2]))
took = time.perf_counter() - t0
from safetensors.torch import load_file
state = load_file(f"{out}/open_clip_model.safetensors")
digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in state.values())).hexdigest()[:16]
print(torch.backends.cpu.get_cpu_capability(), took, digest)
"""


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    clean = {k: v for k, v in os.environ.items() if k not in PINS["avx2"]}
    sides = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, env in (("host kernels", clean), ("pinned avx2", {**clean, **PINS["avx2"]})):
            out = subprocess.run([sys.executable, "-c", CHILD, str(Path(tmp) / name.replace(" ", "-")),
                                  str(args.steps)], capture_output=True, text=True, env=env)
            if out.returncode != 0:
                sys.exit(out.stderr[-2000:])
            isa, took, digest = out.stdout.split()[-3:]
            sides[name] = (isa, float(took), digest)
            print(f"{name:13s} kernels {isa:7s} {float(took):7.1f} s  weights {digest}", flush=True)
    (host_isa, host_s, host_w), (_, pin_s, pin_w) = sides["host kernels"], sides["pinned avx2"]
    ratio(f"CLIP-RN training, {args.steps} steps, 1 thread", "pinned avx2", pin_s, f"host {host_isa}", host_s)
    print(f"same weights: {host_w == pin_w}")


if __name__ == "__main__":
    main()
