#!/usr/bin/env bash
# The test suite on a host that has CUDA, with a caller's environment that must not steer it (issue 15): a Snakemake
# profile and torchrun/SLURM rank variables set, as inside a SLURM job step. Not part of CI (CI has no GPU).
# On a GPU machine whose python3 has torch, timm, transformers, h5py and pytest(-xdist); the rest (snakemake,
# diffusers, open_clip_torch, ...) comes as wheels in .whl/ (see bench/README.md). Output: ${OUT:-/tmp}/cuda_host.log
# Work stealing spreads the slow workflow tests over idle workers; the workers share one build of the
# demo models (tests/conftest.py), and each workflow test gives Snakemake SYNREC_TEST_CORES cores.
set -u
OUT=${OUT:-/tmp}
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
export SYNREC_TEST_CORES=${SYNREC_TEST_CORES:-4}
export SNAKEMAKE_PROFILE=slurm RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 SLURM_PROCID=1 SLURM_NTASKS=2 MASTER_PORT=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/cuda_host.log"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/cuda_host.log"
timeout -s INT -k 20 "${BUDGET:-480}" python3 -m pytest -v -p no:cacheprovider -p no:benchmark -n "${WORKERS:-7}" --dist worksteal --timeout $(( ${BUDGET:-480} - 20 )) --durations=15 -rfE \
  -k "${SELECT:-not test_slurm}" "$@" 2>&1 | tee -a "$OUT/cuda_host.log" | tail -n 60
