"""The CPU kernels' instruction set, pinned so that a CPU run gives the same numbers on every x86 CPU.

PyTorch picks its kernels by what the CPU offers (AVX2, or AVX-512 where present), and so do MKL and oneDNN under
it. Each choice rounds differently, and the small models the demo trains from scratch drift apart over thousands of
steps: the same demo gave Table 1 cells 4-11 points apart on an AVX2 and an AVX-512 machine. The workflow config's
``cpu_isa: avx2`` (the demo's) pins all three libraries to their AVX2 code paths, which every x86-64 CPU of the last
ten years runs, before any job starts:

* ``ATEN_CPU_CAPABILITY=avx2`` - PyTorch's own vectorised kernels;
* ``MKL_CBWR=AVX2`` - MKL's conditional numerical reproducibility mode: the same results on any CPU with AVX2;
* ``ONEDNN_MAX_CPU_ISA=AVX2`` - oneDNN's JIT kernels (convolutions).

Jobs inherit the variables from the Snakemake process (local runs, and SLURM jobs, whose environment sbatch exports
by default). A variable the user has set is left as it is. ``host`` (the default) pins nothing: each library's fastest
kernels on the machine at hand (``--config cpu_isa=host`` overrides the demo's pin).
"""

from __future__ import annotations

import os

PINS = {"host": {}, "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}}


def pin(isa: str, environ=os.environ) -> dict:
    """Set the variables that pin ``isa`` in ``environ`` where they are unset; returns those in force."""
    for key, value in PINS[isa].items():
        environ.setdefault(key, value)
    return {key: environ[key] for key in PINS[isa]}
