"""Time to quality: gankit's presets beside what a learner would otherwise run, one budget each.

Each program trains for the same budget of training seconds on this machine, one after
another (or `--parallel 2`: two at a time, one thread each), and is scored afterwards with
gankit's metrics (FID against the MNIST test set, 10,000 samples; evaluation time excluded):

  default         gankit train --preset default      (the notes' MLPs; ends after its 12 epochs)
  dcgan-candidate gankit train --config benchmarks/configs/dcgan-candidate.yaml (a DCGAN
                  candidate for a `fast` preset; each gankit run checkpoints every epoch)
  keras           the notes' own Keras program       (benchmarks/keras/notes_program.py)
  dcgan-tutorial  the PyTorch DCGAN tutorial's GAN   (benchmarks/peers/dcgan_tutorial.py)
  pytorch-gan     PyTorch-GAN's gan.py MLP GAN       (benchmarks/peers/pytorch_gan_mlp.py)

It prints and writes (benchmarks/results/time-to-quality-<cpu kind>.{md,json}) the FID each
reached by 1, 2, 5 and 10 minutes of training, and the time each took to reach the best FID
the three outside programs ("peers") reached within the budget, and the candidate's time over
the best peer's; the figure goes to docs/time-to-quality.png (FID against training minutes,
CPU kind in the title).

    .venv/bin/python benchmarks/time_to_quality.py --keras-python .venv-keras/bin/python
    ... --isa avx2 --precision fp32     # PyTorch's and oneDNN's kernels restricted to AVX2
    ... --rescore DIR                   # score an earlier run's snapshots again (new extractor)

The Keras program needs `make keras-venv`; without it the keras row is left out and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CANDIDATE = "dcgan-candidate"
GANKIT = {"default": ["--preset", "default"],
          CANDIDATE: ["--config", str(ROOT / "benchmarks" / "configs" / f"{CANDIDATE}.yaml")]}
"""gankit's arms: program -> how `gankit train` starts it."""
PEERS = {"keras": ROOT / "benchmarks" / "keras" / "notes_program.py",
         "dcgan-tutorial": ROOT / "benchmarks" / "peers" / "dcgan_tutorial.py",
         "pytorch-gan": ROOT / "benchmarks" / "peers" / "pytorch_gan_mlp.py"}
PROGRAMS = (*GANKIT, *PEERS)
REPORT_MINUTES = (1, 2, 5, 10)
MARKS = (60, 120, 180, 300, 420, 600)
"""Training seconds at which the peers write samples (gankit: every epoch's checkpoint)."""


def isa_env(isa: str | None, threads: int) -> dict[str, str]:
    """The environment of a training process: its threads, and kernels restricted to `isa`."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
               TF_NUM_INTEROP_THREADS="1", PYTHONUNBUFFERED="1")
    if isa:
        # PyTorch's own kernels, oneDNN's (PyTorch and TensorFlow) and MKL's
        env.update(ATEN_CPU_CAPABILITY=isa, ONEDNN_MAX_CPU_ISA=isa.upper(),
                   DNNL_MAX_CPU_ISA=isa.upper(), MKL_ENABLE_INSTRUCTIONS=isa.upper())
    return env


def split(program: str, seed: int = 0) -> tuple[str, int]:
    """'default-s1' -> ('default', 1) (`--extra-seeds`); 'default' -> ('default', seed)."""
    name, _, suffix = program.rpartition("-s")
    return (name, int(suffix)) if name in GANKIT and suffix.isdigit() else (program, seed)


def command(program: str, a: argparse.Namespace, out: Path, threads: int) -> list[str]:
    program, seed = split(program, a.seed)
    if program in GANKIT:
        return [str(Path(sys.executable).parent / "gankit"), "train", *GANKIT[program],
                "--seed", str(seed), "--precision", a.precision, "--no-progress",
                "--out", str(out), "--set", f"train.threads={threads}",
                "--set", "train.checkpoint_every=1", "--set", "train.keep_checkpoints=1000",
                "--set", "train.sample_every=1000"]
    python = a.keras_python if program == "keras" else sys.executable
    return [str(python), str(PEERS[program]), "--seed", str(a.seed), "--budget", str(a.budget),
            "--marks", ",".join(str(m) for m in MARKS if m <= a.budget),
            "--threads", str(threads), "--out", str(out)]


def last_elapsed(run: Path) -> float:
    """The training seconds of a gankit run's newest epoch record (0 before the first)."""
    from gankit.log import read_metrics

    path = run / "metrics.jsonl"
    records = read_metrics(path) if path.is_file() else []
    return max((float(r["elapsed"]) for r in records if "elapsed" in r), default=0.0)


def train(program: str, a: argparse.Namespace, work: Path, threads: int) -> dict:
    """Run one program to its budget; a gankit run past the budget gets Ctrl-C (it
    checkpoints the epoch and stops)."""
    out = work / program
    log = (work / f"{program}.log").open("w")
    cmd = command(program, a, out, threads)
    print(f"[{program}] {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            env=isa_env(a.isa, threads), cwd=ROOT)
    while proc.poll() is None:
        time.sleep(2)
        if split(program)[0] in GANKIT and last_elapsed(out) >= a.budget:
            proc.send_signal(signal.SIGINT)
            proc.wait()
    log.close()
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 130, -signal.SIGINT):
        tail = (work / f"{program}.log").read_text(errors="replace")[-2000:]
        raise SystemExit(f"[{program}] exited {proc.returncode}:\n{tail}")
    return {"program": program, "wall_seconds": round(wall, 1), "threads": threads}


def snapshots(program: str, out: Path) -> list[tuple[float, object]]:
    """(training seconds, images (N, 1, 28, 28) loader) of a finished program's snapshots."""
    import numpy as np
    import torch

    if split(program)[0] in GANKIT:
        from gankit.log import read_metrics

        elapsed = {int(r["epoch"]): float(r["elapsed"]) for r in read_metrics(out / "metrics.jsonl")
                   if "elapsed" in r and "epoch" in r}
        found = []
        for ckpt in sorted((out / "checkpoints").glob("epoch_*.pt")):
            epoch = int(ckpt.stem.split("_")[1])
            if epoch in elapsed:
                found.append((elapsed[epoch], ckpt))
        return found
    lines = (out / "snapshots.jsonl").read_text(encoding="utf-8").splitlines()
    return [(float(r["seconds"]),
             (lambda f=out / r["file"]: torch.from_numpy(np.load(f)).float().unsqueeze(1)))
            for r in map(json.loads, lines)]


def score(program: str, out: Path, n: int) -> list[dict]:
    """FID (and the other metrics) of every snapshot, n samples each."""
    import gankit
    from gankit.metrics.evaluate import evaluate_images, load_context

    ctx = load_context("cpu")
    cache_path = out / "scores.json"  # one score per snapshot, extractor and n
    cache = json.loads(cache_path.read_text(encoding="utf-8")) if cache_path.is_file() else {}
    rows = []
    for seconds, source in snapshots(program, out):
        key = f"{seconds}:{ctx.extractor_sha256}:{n}"
        if key in cache:
            m = cache[key]
        elif isinstance(source, Path):  # a gankit checkpoint: its EMA G where it has one
            m = dict(gankit.evaluate(gankit.load(source, device="cpu"), n=n, seed=0,
                                     device="cpu"))
        else:
            m, _ = evaluate_images(source()[:n], ctx, seed=0)
        cache[key] = m
        cache_path.write_text(json.dumps(cache), encoding="utf-8")
        rows.append({"seconds": round(seconds, 1), "fid": m["fid"],
                     "classes": m.get("classes_covered"), "not_digit": m.get("not_digit")})
        print(f"  {program:15s} {seconds:7.1f} s  FID {m['fid']:8.2f}", flush=True)
    return rows


def fid_by(rows: list[dict], seconds: float) -> float | None:
    """The best FID among snapshots taken by `seconds` of training (None before the first).

    A peer writes the snapshot of mark m after the iteration that crosses m (up to a second
    late for the slowest peer), so "by 10 minutes" takes snapshots up to 1% past the mark."""
    seen = [r["fid"] for r in rows if r["seconds"] <= seconds * 1.01]
    return min(seen) if seen else None


def time_to(rows: list[dict], target: float) -> float | None:
    """Training seconds of the first snapshot at FID <= target (None: never, within the run)."""
    return next((r["seconds"] for r in rows if r["fid"] <= target), None)


def summarise(curves: dict[str, list[dict]], budget: float) -> dict:
    peers = {p: fid_by(rows, budget) for p, rows in curves.items() if p in PEERS}
    peers = {p: f for p, f in peers.items() if f is not None}
    best_peer = min(peers, key=peers.get) if peers else None
    target = peers.get(best_peer) if best_peer else None
    table = {}
    for p, rows in curves.items():
        table[p] = {f"fid_{m}min": fid_by(rows, 60 * m) for m in REPORT_MINUTES}
        table[p]["seconds_to_target"] = time_to(rows, target) if target is not None else None
        table[p]["final_fid"] = rows[-1]["fid"] if rows else None
        table[p]["last_seconds"] = rows[-1]["seconds"] if rows else None
    ratio = None
    if best_peer and CANDIDATE in table and table[CANDIDATE]["seconds_to_target"] is not None:
        ratio = table[CANDIDATE]["seconds_to_target"] / table[best_peer]["seconds_to_target"]
    return {"best_peer": best_peer, "target_fid": target, "table": table,
            "candidate_over_best_peer": ratio}


def cpu_label(isa: str | None) -> str:
    from gankit.runtime.cpu import cpu_kind, cpu_summary

    kind = f"AVX2 (kernels restricted to {isa.upper()})" if isa else cpu_kind()
    return f"{kind}; {cpu_summary()}"


def write_results(result: dict, curves: dict, a: argparse.Namespace, kind: str) -> Path:
    s = result["summary"]
    lines = [f"# Time to quality ({kind})", "",
             f"Command: `python benchmarks/time_to_quality.py {' '.join(sys.argv[1:])}`. "
             f"CPU: {result['cpu']}. Budget {a.budget:.0f} s of training each, seed {a.seed}, "
             f"{result['mode']}; FID with gankit's metrics (extractor {result['extractor']}), "
             f"n = {a.n:,}, against the MNIST test set; evaluation excluded.", "",
             "| program | FID by 1 min | 2 min | 5 min | 10 min | last snapshot | time to "
             + (f"FID {s['target_fid']:.1f} (best peer's) |" if s["target_fid"] else "target |"),
             "|---|---|---|---|---|---|---|"]
    for p, row in s["table"].items():
        cells = [("—" if row[f"fid_{m}min"] is None else f"{row[f'fid_{m}min']:.1f}")
                 for m in REPORT_MINUTES]
        t = row["seconds_to_target"]
        peer_t = s["table"][s["best_peer"]]["seconds_to_target"] if s["best_peer"] else None
        reached = "not reached" if t is None else f"{t:.0f} s" + (
            f" ({t / peer_t:.2f} of the best peer's time)" if peer_t else "")
        lines.append(f"| {p} | " + " | ".join(cells) + f" | {row['final_fid']:.1f} at "
                     f"{row['last_seconds']:.0f} s | {reached} |")
    if s["candidate_over_best_peer"] is not None:
        lines += ["", f"{CANDIDATE} / best peer ({s['best_peer']}) time to FID "
                      f"{s['target_fid']:.1f}: **{s['candidate_over_best_peer']:.2f}**"]
    if len(result["seeds"]) > 1:
        lines += ["", f"{CANDIDATE} over seeds (its last epoch):", "",
                  "| run | training seconds | FID | classes covered | not a digit | alarms |",
                  "|---|---|---|---|---|---|"]
        for q, r in result["seeds"].items():
            lines.append(f"| {q} | {r['seconds']:.0f} | {r['fid']:.2f} | {r['classes']:.0f} | "
                         f"{r['not_digit']:.3f} | {', '.join(r['alarms']) or 'none'} |")
    lines += ["", "Training runs (wall seconds incl. start-up and snapshots): " + ", ".join(
        f"{r['program']} {r['wall_seconds']:.0f} s" for r in result["runs"])]
    label = kind.lower().replace(" ", "-").replace("(", "").replace(")", "")
    out = a.results / f"time-to-quality-{label}.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (a.results / f"time-to-quality-{label}.json").write_text(
        json.dumps({**result, "curves": curves}, indent=1) + "\n", encoding="utf-8")
    return out


def plot(curves: dict[str, list[dict]], out: Path, title: str, budget: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 4.4), layout="constrained")
    for p, rows in curves.items():
        style = "-" if p in GANKIT else "--"
        ax.plot([r["seconds"] / 60 for r in rows], [r["fid"] for r in rows], style,
                marker="o", ms=3, label=("gankit " if p in GANKIT else "") + p)
    ax.set_yscale("log")
    ax.set_xlim(0, budget / 60 * 1.02)
    ax.set_xlabel("training minutes (evaluation excluded)")
    ax.set_ylabel("FID (gankit's MNIST extractor, log scale)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(title, fontsize=9)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=600.0, help="training seconds per program")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--parallel", type=int, choices=(1, 2), default=1,
                   help="2: two programs at a time, one thread each")
    p.add_argument("--programs", default=",".join(PROGRAMS))
    p.add_argument("--extra-seeds", default="",
                   help=f"more seeds of {CANDIDATE} (e.g. 1,2): a table of their own")
    p.add_argument("--isa", choices=("avx2",), default=None,
                   help="restrict PyTorch's/oneDNN's/MKL's kernels (an AVX2-only CPU's speed)")
    p.add_argument("--precision", default="auto", help="gankit runs' precision")
    p.add_argument("--keras-python", type=Path, default=ROOT / ".venv-keras" / "bin" / "python")
    p.add_argument("--n", type=int, default=10_000, help="samples per FID")
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "time-to-quality")
    p.add_argument("--rescore", action="store_true", help="score --work's snapshots again")
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--figure", type=Path, default=ROOT / "docs" / "time-to-quality.png")
    a = p.parse_args()
    programs = [x for x in a.programs.split(",") if x]
    unknown = [x for x in programs if x not in PROGRAMS]
    if unknown:
        raise SystemExit(f"unknown program {unknown[0]!r}; choose from {', '.join(PROGRAMS)}")
    if "keras" in programs and not a.keras_python.is_file():
        print(f"keras left out: {a.keras_python} does not exist (make keras-venv)")
        programs.remove("keras")
    programs += [f"{CANDIDATE}-s{x}" for x in a.extra_seeds.split(",") if x]
    a.work.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    threads = 1 if a.parallel == 2 else a.threads
    if not a.rescore:
        pending = list(programs)
        while pending:
            batch, pending = pending[:a.parallel], pending[a.parallel:]
            if len(batch) == 1:
                runs.append(train(batch[0], a, a.work, threads))
            else:
                import concurrent.futures

                with concurrent.futures.ThreadPoolExecutor(len(batch)) as pool:
                    runs += list(pool.map(lambda q: train(q, a, a.work, threads), batch))
        (a.work / "runs.json").write_text(json.dumps(runs), encoding="utf-8")
    else:
        runs = json.loads((a.work / "runs.json").read_text(encoding="utf-8"))
    print("scoring ...", flush=True)
    curves = {q: score(q, a.work / q, a.n) for q in programs}
    for q, rows in curves.items():  # a gankit run's health alarms, every epoch
        if split(q)[0] in GANKIT and rows:
            from gankit.log import read_metrics

            rows[-1]["alarms"] = sorted({k for r in read_metrics(a.work / q / "metrics.jsonl")
                                         for k in r.get("alarms", [])})
    from gankit.metrics.evaluate import load_context

    kind = cpu_label(a.isa).split(";")[0]
    mode = ("one after another, " + f"{a.threads} threads each" if a.parallel == 1 else
            "two at a time, one thread each")
    seeds = {q: rows for q, rows in curves.items() if q.startswith(CANDIDATE)}
    curves = {q: rows for q, rows in curves.items() if not q.startswith(CANDIDATE + "-s")}
    result = {"cpu": cpu_label(a.isa), "mode": mode, "budget": a.budget, "seed": a.seed,
              "extractor": load_context("cpu").extractor_sha256[:8], "runs": runs,
              "summary": summarise(curves, a.budget),
              "seeds": {q: rows[-1] for q, rows in seeds.items() if rows}}
    md = write_results(result, curves, a, kind.split(" (")[0] if a.isa else kind)
    plot(curves, a.figure, f"FID against training time, MNIST, seed {a.seed}, "
                           f"{a.budget / 60:.0f} min each, {mode}\n{result['cpu']}", a.budget)
    print(md.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
