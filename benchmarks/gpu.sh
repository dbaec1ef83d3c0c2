#!/usr/bin/env bash
# Everything gankit checks on a CUDA GPU, in one go (for a machine that has one):
#   bash benchmarks/gpu.sh                     # writes into benchmarks/results/
#   GANKIT_DATA_DIR=DIR bash benchmarks/gpu.sh # also trains the default preset on MNIST
# 0. the CUDA tests (graphed iterations train as eager ones do, resume is exact);
# 1. the throughput harness: the tutorial loop, gankit fp32 and bf16 autocast (fp32 master
#    weights; bf16 needs no GradScaler), with CUDA graphs (the default) and without,
#    median of alternating rounds;
# 2. with MNIST at hand (GANKIT_DATA_DIR: a folder of its IDX files, raw or .gz; the GPU
#    machine may have no network), the default preset trained on the GPU, then `gankit
#    eval` of its generator (FID, classifier score, ...);
# 3. torchrun with nccl: 2 processes with 2+ GPUs, else 1 (the nccl code path), a smoke
#    run and its resume;
# 4. with COMPILE=1, torch.compile variants of the harness (compile time in the log).
# Budget: about 4 minutes on an H100. DEVICE=cpu (with small ITERS) dry-runs the script.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-benchmarks/results}
DEVICE=${DEVICE:-cuda}
ITERS=${ITERS:-200}
ROUNDS=${ROUNDS:-5}
TRAIN_ARGS=${TRAIN_ARGS:---preset default}
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
WORK=${WORK:-$(mktemp -d)}  # run folders and scratch data (only figures and logs go to OUT)
mkdir -p "$OUT" "$WORK"
LOG="$OUT/gpu-log.txt"
: >"$LOG"
say() { echo "== $* ($(date +%T))" | tee -a "$LOG"; }

say "machine"
if [ "$DEVICE" = cuda ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee -a "$LOG" || true
fi
$PY - <<PY 2>&1 | tee -a "$LOG"
import torch
print("torch", torch.__version__, "CUDA", torch.version.cuda)
if "$DEVICE" == "cuda":
    assert torch.cuda.is_available(), "no CUDA GPU visible to PyTorch"
    print(torch.cuda.get_device_name(0), torch.cuda.device_count(), "GPU(s),",
          "bf16" if torch.cuda.is_bf16_supported() else "no bf16")
PY
if [ "$DEVICE" = cuda ]; then
    CARD=$($PY -c "import torch; print(torch.cuda.get_device_name(0).replace(' ', '-'))")
    NGPU=$($PY -c "import torch; print(torch.cuda.device_count())")
else
    CARD=cpu NGPU=1
fi

say "0. CUDA tests"
LOOPS=reference,gankit-fp32,gankit-bf16,gankit-fp32-eager,gankit-bf16-eager
if ! timeout 240 $PY -m pytest -q -p no:cacheprovider tests/runtime/test_graphs_cuda.py \
        tests/runtime/test_graphs.py 2>&1 | tee -a "$LOG"; then
    say "CUDA tests failed: the rest runs without CUDA graphs"
    LOOPS=reference,gankit-fp32-eager,gankit-bf16-eager
    TRAIN_ARGS="$TRAIN_ARGS --set train.cuda_graphs=false"
fi

say "1. harness: $LOOPS ($ITERS iterations x $ROUNDS rounds)"
timeout 300 $PY benchmarks/throughput.py --device "$DEVICE" --iters "$ITERS" --rounds "$ROUNDS" \
    --warmup 30 --loops "$LOOPS" ${NO_MEMORY:+--no-memory} \
    --json "$OUT/gpu-$CARD.json" 2>&1 | tee -a "$LOG" || say "harness stopped (timeout or error)"

DATA_DIR=${GANKIT_DATA_DIR:-}
if [ -n "$DATA_DIR" ]; then
    say "2. train on MNIST: $TRAIN_ARGS --device $DEVICE"
    rm -rf "$WORK/run"
    /usr/bin/time -v timeout 300 $PY -m gankit train $TRAIN_ARGS --device "$DEVICE" \
        --data-dir "$DATA_DIR" --no-progress --out "$WORK/run" 2>&1 \
        | grep -v -E '^\s+(Average|Major|Minor|Volun|Invol|Swaps|File sys|Socket|Signals|Page size|Exit status|Percent|System time|User time)' \
        | tee -a "$LOG" || say "training failed"
    say "2b. evaluate it (n = 10000)"
    timeout 200 $PY -m gankit eval "$WORK/run" --n 10000 --device "$DEVICE" \
        --data-dir "$DATA_DIR" --out "$OUT/eval.json" 2>&1 | tee -a "$LOG" || say "eval failed"
    last=$(ls "$WORK/run/samples" 2>/dev/null | sort | tail -1 || true)
    [ -z "$last" ] || cp "$WORK/run/samples/$last" "$OUT/final-grid.png"
    cp "$WORK/run/metrics.jsonl" "$OUT/metrics.jsonl" 2>/dev/null || true
else
    say "2. skipped: set GANKIT_DATA_DIR to a folder of MNIST's IDX files to train on MNIST"
fi

say "3. torchrun: $(( NGPU >= 2 ? 2 : 1 )) process(es), $( [ "$DEVICE" = cuda ] && echo nccl || echo gloo)"
# random IDX images: enough for the code path, no data set needed
mkdir -p "$WORK/idx"
$PY -c "
import numpy as np; from gankit.data.idx import write_idx
r = np.random.default_rng(0)
write_idx('$WORK/idx/train-images-idx3-ubyte', r.integers(0, 256, (1024, 28, 28), dtype=np.uint8))
write_idx('$WORK/idx/train-labels-idx1-ubyte', r.integers(0, 10, 1024, dtype=np.uint8))"
rm -rf "$WORK/ddp-smoke"
NPROC=$(( NGPU >= 2 ? 2 : 1 ))
timeout 180 $PY -m torch.distributed.run --standalone --nproc-per-node $NPROC \
    -m gankit train --preset smoke --data idx --data-dir "$WORK/idx" --device "$DEVICE" \
    --precision bf16 --batch-size 64 --epochs 2 --no-progress --out "$WORK/ddp-smoke" \
    2>&1 | tee -a "$LOG" || say "torchrun failed"
timeout 180 $PY -m torch.distributed.run --standalone --nproc-per-node $NPROC \
    -m gankit train --resume --data-dir "$WORK/idx" --epochs 3 --no-progress \
    --out "$WORK/ddp-smoke" 2>&1 | tee -a "$LOG" || say "torchrun resume failed"
$PY -c "
import json; rows = [json.loads(l) for l in open('$WORK/ddp-smoke/metrics.jsonl')]
print('ddp-smoke epochs logged:', [r['epoch'] for r in rows if 'epoch' in r and 'loss_d' in r])" \
    2>&1 | tee -a "$LOG" || true

if [ "${COMPILE:-0}" = 1 ]; then
    say "4. harness: torch.compile (compile time included above the table)"
    timeout "${COMPILE_TIMEOUT:-150}" $PY benchmarks/throughput.py --device "$DEVICE" \
        --iters "$ITERS" --rounds 3 --warmup 30 --no-memory \
        --loops gankit-bf16-eager,gankit-bf16-compile,gankit-fp32-compile 2>&1 | tee -a "$LOG" \
        || say "compile harness stopped (timeout or error)"
fi
say "done"
