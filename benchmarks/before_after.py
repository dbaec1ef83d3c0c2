"""Training speed of two gankit checkouts side by side: the serial trainer and the batched one.

Run:  python benchmarks/before_after.py --before /path/to/old/checkout --after . \
          [--rounds 5] [--threads 1]

Not part of the test suite. Each measurement is a fresh process of this script in
`--worker` mode with PYTHONPATH set to one checkout's src/ (the same Python and torch for
both), so the only difference is gankit's code. The checkouts alternate round by round, in
the order A B / B A / A B ..., so a busy machine slows both alike; printed: the medians
over rounds, their ratio after / before, and the median of each round's own ratio (the two
runs of a round are adjacent in time, so this one is the least hurt by a changing load).
Workloads (one warm-up epoch, then one timed):

- `serial-fp32`, `serial-bf16`: `Trainer.train_epoch` on the `seed` preset's models (the
  notes' MLP GAN, batch 256, dropout, Keras init), 40 iterations of synthetic MNIST-shaped
  data; images/s (the rate benchmarks/throughput.py reports);
- `batched`: `BatchedToyGANs.train_epoch` with the `toy-ring` preset (what
  `gankit compare --data ring2d` trains), 4 seeds, one epoch of 156 iterations; images/s
  of all seeds together.
Each rate is given per wall second and per CPU second of the worker: on a shared machine
with more runnable processes than cores, a one-thread worker's CPU time counts only the
time it ran, so the CPU rate is far less disturbed by the load (caches and memory
bandwidth are still shared).
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

WORKLOADS = ("serial-fp32", "serial-bf16", "batched")


def worker(workload: str, threads: int) -> dict[str, float | str]:
    """Time one workload with the gankit on sys.path; returns its rate."""
    import torch

    import gankit
    from gankit.config import build_config

    torch.set_num_threads(threads)
    if workload.startswith("serial"):
        from gankit.core.trainer import Trainer

        precision = workload.split("-")[1]
        cfg = build_config("seed", None, {"train.precision": precision, "train.device": "cpu",
                                          "train.threads": threads})
        gen = torch.Generator().manual_seed(0)
        data = torch.rand(40 * 256, 1, 28, 28, generator=gen) * 2 - 1
        trainer = Trainer(cfg, data, "cpu")
        trainer.train_epoch()  # warm-up
        cpu = time.process_time()
        rec = trainer.train_epoch()
        cpu = time.process_time() - cpu
        rate, images = rec["images_per_s"], 40 * 256
    else:
        from gankit.runs.batched import BatchedToyGANs

        cfgs = [build_config("toy-ring", None, {"train.seed": s, "train.device": "cpu"})
                for s in range(4)]
        trainer = BatchedToyGANs(cfgs)
        trainer.train_epoch()  # warm-up
        start, cpu = time.perf_counter(), time.process_time()
        trainer.train_epoch()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        images = 4 * trainer.iterations_per_epoch() * cfgs[0].train.batch_size
        rate = images / seconds
    return {"images_per_s": rate, "images_per_cpu_s": images / cpu,
            "gankit": str(Path(gankit.__file__).parent)}


def measure(src: Path, workload: str, threads: int) -> dict[str, float | str]:
    """Run `worker` in a fresh process with `src` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run([sys.executable, __file__, "--worker", workload, "--threads",
                           str(threads)], env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", type=Path, help="the old checkout (its src/ is used)")
    p.add_argument("--after", type=Path, help="the new checkout (its src/ is used)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads)))
        return 0
    if not (args.before and args.after):
        p.error("--before and --after are needed")
    sides = {"before": args.before.resolve() / "src", "after": args.after.resolve() / "src"}
    rates: dict[str, dict[str, list[float]]] = {}
    for w in args.workloads.split(","):
        for kind in ("wall", "cpu"):
            rates[f"{w} ({kind})"] = {"before": [], "after": []}
        for r in range(args.rounds):
            order = ("before", "after") if r % 2 == 0 else ("after", "before")
            for side in order:
                out = measure(sides[side], w, args.threads)
                assert str(out["gankit"]).startswith(str(sides[side])), out
                rates[f"{w} (wall)"][side].append(float(out["images_per_s"]))
                rates[f"{w} (cpu)"][side].append(float(out["images_per_cpu_s"]))
            for kind in ("wall", "cpu"):
                got = rates[f"{w} ({kind})"]
                print(f"{w} round {r + 1}, {kind}: before {got['before'][-1]:,.0f}, after "
                      f"{got['after'][-1]:,.0f} images/s", flush=True)
    print(f"\nmedians over {args.rounds} alternating rounds, {args.threads} thread(s); "
          "wall: images per wall second, cpu: images per CPU second of the process (with one "
          "thread, the time it ran, not the time it waited for a core):")
    for w, by_side in rates.items():
        b, a = (statistics.median(by_side[s]) for s in ("before", "after"))
        spread = {s: (min(v), max(v)) for s, v in by_side.items()}
        paired = statistics.median(x / y for x, y in zip(by_side["after"], by_side["before"],
                                                         strict=True))
        print(f"  {w:18s} before {b:9,.0f}  after {a:9,.0f} images/s  after/before {a / b:.3f}"
              f"  median of the rounds' ratios {paired:.3f}  (ranges: before "
              f"{spread['before'][0]:,.0f}-{spread['before'][1]:,.0f}, after "
              f"{spread['after'][0]:,.0f}-{spread['after'][1]:,.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
