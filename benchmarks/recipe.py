"""The default preset over seeds and numeric paths: time, quality, collapse (issue: a first run
that learns on every machine).

Runs `gankit train --preset default` once per (seed, precision), evaluates the final G on
10,000 samples (gankit's FID against the MNIST test set, classes covered) and prints one table
row per run: seed, precision, CPU kind and flags, training seconds, FID, classes, and whether
the run's health checks (gankit.runs.health) flagged anything. The goal the default aims at:
every run FID <= 45 with all 10 classes and no alarm (measured: 49-53, not yet reached).

    python benchmarks/recipe.py                        # 5 seeds x fp32, bf16; one run at a time
    python benchmarks/recipe.py --parallel 2           # two runs at once, one thread each
    python benchmarks/recipe.py --emulate-avx2 --precisions fp32   # as an AVX2-only CPU would

`--parallel N` trains N runs at once with 1 thread each: more runs per hour on 2 cores, but
its seconds are those of a shared machine (the table says so). `--emulate-avx2` restricts
PyTorch's kernels, MKL and oneDNN to AVX2 code paths (ATEN_CPU_CAPABILITY, MKL_ENABLE_
INSTRUCTIONS, DNNL_MAX_CPU_ISA), to time an AVX2-only laptop on an AVX-512 machine.
Results go to benchmarks/results/recipe-<cpu kind>.{md,json} (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gankit.runtime.cpu import cpu_kind, cpu_summary  # noqa: E402

AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
            "DNNL_MAX_CPU_ISA": "AVX2"}
"""Environment that keeps PyTorch, MKL and oneDNN on AVX2 code paths."""

FID_BAR = 45.0
"""The quality goal of the default preset: FID <= this with all 10 classes."""


def run_one(seed: int, precision: str, threads: int, out: Path, extra: list[str],
            env: dict[str, str]) -> subprocess.Popen:
    """Start one training run (the default preset + its final evaluation) in a subprocess."""
    cmd = [sys.executable, "-m", "gankit", "train", "--preset", "default", "--seed", str(seed),
           "--precision", precision, "--out", str(out), "--set", f"train.threads={threads}",
           "--set", "train.progress=false", "--set", "train.eval_n=10000", *extra]
    epochs = None
    for i, word in enumerate(extra):  # the final evaluation needs the epoch count
        if word == "--epochs":
            epochs = int(extra[i + 1])
    if epochs is None:
        from gankit.config import from_preset

        epochs = from_preset("default").train.epochs
    cmd += ["--eval-every", str(epochs)]
    log = open(out.with_suffix(".log"), "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env})


def summarise(seed: int, precision: str, out: Path) -> dict:
    """The table row of a finished run, from its metrics.jsonl."""
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    last = records[-1]
    alarms = sorted({a for r in records for a in r.get("alarms", [])})
    fid = last.get("fid", float("nan"))
    classes = int(last.get("classes_covered", 0))
    return {"seed": seed, "precision": precision, "epochs": last["epoch"],
            "seconds": round(last["elapsed"], 1), "fid": round(fid, 1), "classes": classes,
            "classifier_score": round(last.get("classifier_score", float("nan")), 2),
            "alarms": alarms, "passes": fid <= FID_BAR and classes == 10 and not alarms,
            "d_fake_min": round(min(r["d_fake"] for r in records), 3)}


def table(rows: list[dict], kind: str, flags: str, parallel: int, threads: int) -> str:
    """The Markdown table of the runs, then medians per precision."""
    shared = (f", {parallel} runs at a time, 1 thread each" if parallel > 1
              else f", one run at a time, {threads} thread(s)")
    lines = [f"CPU: {flags}{shared}", "",
             "| seed | precision | CPU | seconds | FID | classes | collapse flag |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        flag = ", ".join(r["alarms"]) if r["alarms"] else "none"
        lines.append(f"| {r['seed']} | {r['precision']} | {kind} | {r['seconds']:.0f} | "
                     f"{r['fid']:.1f} | {r['classes']} | {flag} |")
    lines.append("")
    for p in sorted({r["precision"] for r in rows}):
        sel = [r for r in rows if r["precision"] == p]
        lines.append(f"{p}: median {statistics.median(r['seconds'] for r in sel):.0f} s, FID "
                     f"{min(r['fid'] for r in sel):.1f}-{max(r['fid'] for r in sel):.1f}, "
                     f"{sum(r['passes'] for r in sel)}/{len(sel)} runs pass (FID <= "
                     f"{FID_BAR:.0f}, 10 classes, no alarm)")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    p.add_argument("--precisions", default="fp32,bf16", help="comma-separated: fp32, bf16")
    p.add_argument("--parallel", type=int, default=1, help="runs at once (1 thread each)")
    p.add_argument("--threads", type=int, default=2, help="threads per run when not parallel")
    p.add_argument("--emulate-avx2", action="store_true", help="AVX2 code paths only")
    p.add_argument("--runs-dir", default="runs/recipe", help="where the run folders go")
    p.add_argument("--out", default=None, help="results stem (default benchmarks/results/"
                   "recipe-<cpu kind>)")
    p.add_argument("extra", nargs="*", help="more `gankit train` flags, after --")
    a = p.parse_args()
    seeds = [int(s) for s in a.seeds.split(",") if s]
    precisions = [s for s in a.precisions.split(",") if s]
    env = AVX2_ENV if a.emulate_avx2 else {}
    kind = "AVX2 (emulated)" if a.emulate_avx2 else cpu_kind()
    flags = cpu_summary() + ("; kernels restricted to AVX2" if a.emulate_avx2 else "")
    threads = 1 if a.parallel > 1 else a.threads
    runs_dir = Path(a.runs_dir) / time.strftime("%Y%m%d-%H%M%S")
    runs_dir.mkdir(parents=True)
    todo = [(s, prec) for prec in precisions for s in seeds]
    running: list[tuple[int, str, Path, subprocess.Popen]] = []
    rows = []
    print(flags, flush=True)
    while todo or running:
        while todo and len(running) < a.parallel:
            seed, prec = todo.pop(0)
            out = runs_dir / f"seed{seed}-{prec}"
            running.append((seed, prec, out, run_one(seed, prec, threads, out, a.extra, env)))
        time.sleep(2)
        for item in list(running):
            seed, prec, out, proc = item
            if proc.poll() is None:
                continue
            running.remove(item)
            if proc.returncode != 0:
                print(f"seed {seed} {prec}: gankit exited {proc.returncode}; see "
                      f"{out.with_suffix('.log')}", flush=True)
                continue
            row = summarise(seed, prec, out)
            rows.append(row)
            print(json.dumps(row), flush=True)
    rows.sort(key=lambda r: (r["precision"], r["seed"]))
    text = table(rows, kind, flags, a.parallel, threads)
    print(text)
    stem = Path(a.out) if a.out else ROOT / "benchmarks" / "results" / (
        "recipe-" + kind.lower().replace(" ", "-").replace("(", "").replace(")", ""))
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text(text + "\n")
    stem.with_suffix(".json").write_text(json.dumps({"cpu": flags, "rows": rows}, indent=1))
    return 0 if rows and all(r["passes"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
