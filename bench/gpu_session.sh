#!/usr/bin/env bash
# The GPU benchmarks as one prepared run (issue 12): generation throughput and its speed levers on the true-size
# Stable Diffusion stand-in, pre-training throughput, and decode rates per core vs ResNet-50 consumption.
# On a GPU machine whose Python has torch, timm, transformers and h5py; diffusers and open_clip_torch come as wheels
# in .whl/ when missing. Writes logs and JSONs to ${OUT:-bench/results/local/gpu}.
set -u
OUT=${OUT:-bench/results/local/gpu}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD  # synrec without installing it
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,power.limit --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, diffusers, open_clip, transformers, timm; print('torch', torch.__version__, 'diffusers', \
diffusers.__version__, 'open_clip', open_clip.__version__, 'transformers', transformers.__version__, 'timm', \
timm.__version__)" | tee -a "$OUT/gpu.txt"
G=${GEN_BUDGET:-420}
timeout $((G + 60)) python3 bench/generation_throughput.py --steps 50 --batches ${BATCHES:-1,4,8,16} \
  --levers ${LEVERS:-all} --compile --budget "$G" --out "$OUT/generation_throughput${TAG:-}.json" 2>&1 \
  | grep -v -i "warn" | tee "$OUT/generation${TAG:-}.log"
timeout 120 python3 bench/pretrain_throughput.py --batch 128 --steps 20 2>&1 | tee "$OUT/pretrain.log"
timeout 90 python3 bench/decode_throughput.py --images 1024 2>&1 | tee "$OUT/decode.log"
# issue 29: a CLIP-LoRA and a DataDream LoRA step and a LLaVA-1.5-7B caption batch at true size (needs peft: add
# its wheel to .whl/)
timeout ${PEER_BUDGET:-360} python3 bench/peer_methods_throughput.py --out "$OUT/peer_methods_throughput.json" 2>&1 \
  | grep -v -i "warn" | tee "$OUT/peer_methods.log"
