"""The notes' Keras program beside gankit's `seed` preset: same GAN, same epochs, same metrics.

Pairs, each trained on every seed and scored after the listed epochs with gankit's metrics
(FID against the MNIST test set, classifier score, classes covered; 10,000 samples):
  keras (as written)       <-> gankit seed --lr-g 1e-3 --beta1-g 0.9   (G: Keras's default Adam)
  keras --intended-optim.  <-> gankit seed                             (G: Adam 2e-4 / 0.5)
Per epoch it prints mean and spread (min..max) over seeds and the training seconds per epoch,
then how many times faster gankit trains the same GAN on this CPU.

    make keras-bench ARGS="--seeds 0,1,2 --epochs 1,5,10"
    .venv/bin/python benchmarks/keras/side_by_side.py --keras-python .venv-keras/bin/python \\
        --seeds 0 --epochs 1 --threads 2           # a quick check
    ... --threads 1 --parallel 2               # two trainings at a time, one thread each

The Keras runs need `make keras-venv` (Keras 3 + TensorFlow CPU, not part of gankit's own
install). Results: benchmarks/results/keras-side-by-side-<cpu kind>.{md,json}.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

VARIANTS = {
    # name: (keras program flags, gankit flags)
    "keras-optimiser": ([], ["--lr-g", "1e-3", "--beta1-g", "0.9"]),
    "intended-optimiser": (["--intended-optimizer"], []),
    # the program as written, and gankit with every remaining difference switched to Keras's
    "keras-details": ([], ["--lr-g", "1e-3", "--beta1-g", "0.9", "--set", "train.adam_eps=1e-7",
                           "--set", "train.real_batches=replacement"]),
}
"""The pairs compared: the program as written, its intended optimiser for G, and the first
with Keras's Adam epsilon and real batches drawn with replacement in gankit too."""


def run_keras(python: str, seed: int, epochs: list[int], out: Path, flags: list[str],
              threads: int) -> None:
    """The notes' program for max(epochs) epochs, sampling after each listed epoch."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads),
           "TF_NUM_INTEROP_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    cmd = [python, str(ROOT / "benchmarks" / "keras" / "notes_program.py"), "--seed", str(seed),
           "--epochs", str(max(epochs)), "--sample-epochs", ",".join(map(str, epochs)),
           "--out", str(out), *flags]
    with open(out / "log.txt", "w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT, env=env)


def run_gankit(seed: int, epochs: list[int], out: Path, flags: list[str], threads: int) -> None:
    """gankit's seed preset for max(epochs) epochs, a checkpoint after every epoch."""
    cmd = [sys.executable, "-m", "gankit", "train", "--preset", "seed", "--seed", str(seed),
           "--epochs", str(max(epochs)), "--precision", "fp32", "--out", str(out),
           "--set", f"train.threads={threads}", "--set", "train.checkpoint_every=1",
           "--set", f"train.keep_checkpoints={max(epochs)}", "--set", "train.progress=false",
           *flags]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.log", "w") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src")})


def score_keras(out: Path, epoch: int, ctx) -> dict:  # noqa: ANN001
    import numpy as np
    import torch

    from gankit.metrics.evaluate import evaluate_images

    images = np.load(out / f"samples_epoch_{epoch:04d}.npy", allow_pickle=False)
    x = torch.from_numpy(images.astype(np.float32)).clamp(-1, 1).unsqueeze(1)
    m, _ = evaluate_images(x, ctx)
    times = [json.loads(line) for line in (out / "times.jsonl").read_text().splitlines()]
    seconds = next(t["seconds"] for t in times if t["epoch"] == epoch)
    return {**{k: float(m[k]) for k in ("fid", "classifier_score", "classes_covered")},
            "seconds_per_epoch": seconds / epoch}


def score_gankit(out: Path, epoch: int, ctx) -> dict:  # noqa: ANN001
    from gankit.metrics.evaluate import evaluate_generator
    from gankit.runs.checkpoint import load_generator

    g, cfg = load_generator(out / "checkpoints" / f"epoch_{epoch:04d}.pt")
    m = evaluate_generator(g, cfg.model.z_dim, n=10_000, device="cpu", seed=0, ctx=ctx)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    elapsed = next(r["elapsed"] for r in records if r["epoch"] == epoch)
    return {**{k: float(m[k]) for k in ("fid", "classifier_score", "classes_covered")},
            "seconds_per_epoch": elapsed / epoch}


def spread(values: list[float], digits: int = 1) -> str:
    """mean (min..max) over seeds."""
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({min(values):.{digits}f}..{max(values):.{digits}f})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keras-python", required=True, help="python of the Keras environment")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", default="1,5,10", help="epochs to score at")
    p.add_argument("--variants", default="keras-optimiser,intended-optimiser",
                   help=f"pairs to run, of: {', '.join(VARIANTS)}")
    p.add_argument("--programs", default="keras,gankit",
                   help="which side(s) to train: keras, gankit or both")
    p.add_argument("--out", help="results stem (default benchmarks/results/"
                                 "keras-side-by-side-<cpu kind>)")
    p.add_argument("--threads", type=int, default=2, help="threads per training")
    p.add_argument("--parallel", type=int, default=1, help="trainings run at a time")
    p.add_argument("--runs-dir", default="runs/keras-side-by-side")
    p.add_argument("--score-only", metavar="DIR",
                   help="train nothing: score the runs an earlier call left in DIR (e.g. "
                        "after the extractor changed)")
    a = p.parse_args()
    from gankit.metrics.evaluate import load_context
    from gankit.runtime.cpu import cpu_kind, cpu_summary

    seeds = [int(s) for s in a.seeds.split(",") if s]
    programs = [p for p in ("keras", "gankit") if p in a.programs.split(",")]
    epochs = sorted(int(e) for e in a.epochs.split(",") if e)
    runs = Path(a.score_only) if a.score_only else Path(a.runs_dir) / time.strftime("%Y%m%d-%H%M%S")
    ctx = load_context("cpu")
    jobs = []
    for variant in a.variants.split(","):
        keras_flags, gankit_flags = VARIANTS[variant]
        for seed in seeds:
            for program in programs:
                out = runs / f"{variant}-{program}-seed{seed}"
                if program == "keras":
                    job = (run_keras, (a.keras_python, seed, epochs, out, keras_flags, a.threads))
                else:
                    job = (run_gankit, (seed, epochs, out, gankit_flags, a.threads))
                jobs.append(((variant, program, seed, out), job))
    # trainings are subprocesses: a thread pool runs `--parallel` of them at a time
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.parallel) as pool:
        futures = {pool.submit(fn, *args): key for key, (fn, args) in jobs if not a.score_only}
        for done in concurrent.futures.as_completed(futures):
            done.result()
            print("trained", *futures[done][:3], flush=True)
    rows = []
    for (variant, program, seed, out), _ in jobs:
        for e in epochs:
            score = (score_keras if program == "keras" else score_gankit)(out, e, ctx)
            rows.append({"variant": variant, "program": program, "seed": seed, "epoch": e,
                         **score})
            print(json.dumps(rows[-1]), flush=True)
    lines = [f"CPU: {cpu_summary()}, {a.threads} thread(s) per training, {a.parallel} at a "
             f"time; seeds {seeds}; mean (min..max)", "",
             "| G's optimiser | program | epoch | FID | classifier score | classes | s/epoch |",
             "|---|---|---|---|---|---|---|"]
    for variant in a.variants.split(","):
        for program in programs:
            for e in epochs:
                sel = [r for r in rows if (r["variant"], r["program"], r["epoch"])
                       == (variant, program, e)]
                if not sel:
                    continue
                lines.append(
                    f"| {variant} | {program} | {e} | {spread([r['fid'] for r in sel])} | "
                    f"{spread([r['classifier_score'] for r in sel], 2)} | "
                    f"{spread([r['classes_covered'] for r in sel], 0)} | "
                    f"{spread([r['seconds_per_epoch'] for r in sel])} |")
    k = [r["seconds_per_epoch"] for r in rows if r["program"] == "keras"]
    g = [r["seconds_per_epoch"] for r in rows if r["program"] == "gankit"]
    if k and g:
        mk, mg = statistics.median(k), statistics.median(g)
        lines += ["", f"gankit trains the same GAN {mk / mg:.1f}x faster per epoch (median "
                  f"seconds per epoch {mk:.1f} vs {mg:.1f})"]
    text = "\n".join(lines)
    print(text)
    stem = Path(a.out) if a.out else ROOT / "benchmarks" / "results" / (
        "keras-side-by-side-" + cpu_kind().lower().replace(" ", "-"))
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text(text + "\n")
    stem.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
