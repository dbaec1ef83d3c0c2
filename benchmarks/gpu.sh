#!/usr/bin/env bash
# The throughput harness on a CUDA GPU in one go (for a machine that has one):
#   bash benchmarks/gpu.sh            # writes benchmarks/results/gpu-*.{txt,json}
# fp32 and bf16 AMP (autocast; fp32 master weights; no GradScaler needed for bf16),
# with and without torch.compile, against the tutorial loop; then, with 2+ GPUs, a
# 2-process DDP (nccl) smoke run. Budget: about 5 minutes on an H100.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
$PY - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA GPU visible to PyTorch"
print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name(0),
      "bf16" if torch.cuda.is_bf16_supported() else "no bf16")
PY
CARD=$($PY -c "import torch; print(torch.cuda.get_device_name(0).replace(' ', '-'))")
# A GPU iteration takes a few ms: many iterations per round.
PYTHONPATH=src timeout 420 $PY benchmarks/throughput.py --device cuda --iters 200 --rounds 5 \
    --warmup 30 --loops reference,gankit-fp32,gankit-bf16,gankit-fp32-compile,gankit-bf16-compile \
    --json "$OUT/gpu-$CARD.json" | tee "$OUT/gpu-$CARD.txt"
NGPU=$($PY -c "import torch; print(torch.cuda.device_count())")
if [ "$NGPU" -ge 2 ]; then
    # random IDX images: the GPU machine may have no network for MNIST
    mkdir -p "$OUT/idx"
    PYTHONPATH=src $PY -c "
import numpy as np; from gankit.data.idx import write_idx
r = np.random.default_rng(0)
write_idx('$OUT/idx/train-images-idx3-ubyte', r.integers(0, 256, (1024, 28, 28), dtype=np.uint8))
write_idx('$OUT/idx/train-labels-idx1-ubyte', r.integers(0, 10, 1024, dtype=np.uint8))"
    rm -rf "$OUT/ddp-smoke"
    PYTHONPATH=src timeout 120 torchrun --standalone --nproc-per-node 2 -m gankit train \
        --preset smoke --set data.dataset=idx --data-dir "$OUT/idx" --device cuda \
        --precision bf16 --batch-size 64 --no-progress --out "$OUT/ddp-smoke" \
        2>&1 | tee "$OUT/gpu-ddp-$CARD.txt"
fi
