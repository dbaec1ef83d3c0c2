"""Bit-for-bit equivalence of two gankit checkouts: the same commands, the same artefacts.

Run:  python benchmarks/equivalence.py --before /path/to/old/.venv/bin/gankit \
          --after .venv/bin/gankit --out /tmp/equivalence

Not part of the test suite (a few minutes on one CPU thread). Each `gankit` runs the same
commands in its own folder under --out (the working directory outside both checkouts):

- `train --preset smoke` (MNIST, fp32) then `sample --seed 1 --out sample.npy`;
- `train --preset smoke --precision bf16` (the bf16 autocast path);
- `train --preset toy` (ring2d), and a toy WGAN-GP run with n_critic 5 and instance noise
  (the game's penalty and the noise stream);
- `compare --data ring2d --seeds 4` (the batched trainer), and a small batched compare of
  wgan-gp and hinge with instance noise.

It then compares, and prints a verdict per artefact:
- the sample .npy: byte for byte;
- every checkpoint: every tensor (weights, both Adams' states, fixed latents, the RNG
  states) with torch.equal, every other value with ==, except the wall-clock `elapsed`,
  `gankit_version` and `run_id` (a fresh random id per run);
- compare's table.json: equal after dropping the wall-clock readings (`elapsed`,
  `seconds`); table.md: its rows equal after dropping the wall-clock column `train s` and
  the "wall time" figure; its header row is printed when it differs (column labels come
  from gankit.stats, so a label may be renamed while every number stays the same);
- each run's metrics.jsonl: equal but for the timing keys; a statistic that differs is
  listed with its largest relative difference (a logged number, not the training state).
Exit status 1 when a checkpoint, a sample or a table differs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

TIMING_KEYS = {"seconds", "images_per_s", "elapsed", "eval_seconds", "time"}
"""metrics.jsonl keys that are wall-clock readings, not results."""

RUNS: list[tuple[str, list[str]]] = [
    ("smoke", ["train", "--preset", "smoke", "--out", "smoke", "--set", "train.threads=1"]),
    ("smoke-sample", ["sample", "--checkpoint", "smoke", "--seed", "1", "--out",
                      "smoke-sample.npy", "--device", "cpu"]),
    ("smoke-bf16", ["train", "--preset", "smoke", "--precision", "bf16", "--out", "smoke-bf16",
                    "--set", "train.threads=1"]),
    ("toy", ["train", "--preset", "toy", "--epochs", "4", "--out", "toy",
             "--set", "train.threads=1"]),
    ("toy-gp", ["train", "--preset", "toy", "--loss", "wgan-gp", "--n-critic", "5",
                "--epochs", "3", "--out", "toy-gp", "--set", "train.instance_noise=0.5",
                "--set", "train.threads=1"]),
    ("compare", ["compare", "--data", "ring2d", "--seeds", "4", "--out", "compare"]),
    ("compare-gp", ["compare", "--data", "ring2d", "--seeds", "2", "--epochs", "3",
                    "--losses", "wgan-gp,hinge", "--set", "train.instance_noise=0.5",
                    "--set", "train.n_critic=2", "--out", "compare-gp"]),
]
"""(name, gankit arguments), run in this order in each checkout's folder."""


def produce(gankit: str, folder: Path) -> None:
    """Run RUNS with the `gankit` executable in `folder` (created; must not exist)."""
    folder.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name, args in RUNS:
        proc = subprocess.run([gankit, *args], cwd=folder, env=env, capture_output=True,
                              text=True)
        (folder / f"{name}.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode:
            sys.exit(f"{gankit} {' '.join(args)} failed ({proc.returncode}): see "
                     f"{folder / (name + '.log')}")


def diff_values(a: Any, b: Any, path: str, out: list[str]) -> None:
    """Append to `out` every place where the nested values a and b differ."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)
                and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)):
            out.append(f"{path}: tensors differ")
    elif isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k in ("elapsed", "gankit_version", "run_id"):
                continue
            if k not in a or k not in b:
                out.append(f"{path}.{k}: only in {'before' if k in a else 'after'}")
            else:
                diff_values(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            out.append(f"{path}: length {len(a)} vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            diff_values(x, y, f"{path}[{i}]", out)
    elif a != b and not (a != a and b != b):  # NaN == NaN here
        out.append(f"{path}: {a!r} vs {b!r}")


def compare_checkpoints(before: Path, after: Path) -> tuple[int, list[str]]:
    """(tensors compared, differences) over every checkpoint of the two folders."""
    problems: list[str] = []
    count = 0
    files = sorted(p.relative_to(before) for p in before.rglob("*.pt"))
    if not files:
        problems.append("no checkpoints found")
    for rel in files:
        if not (after / rel).exists():
            problems.append(f"{rel}: missing after")
            continue
        a = torch.load(before / rel, map_location="cpu", weights_only=False)
        b = torch.load(after / rel, map_location="cpu", weights_only=False)
        count += sum(1 for _ in _tensors(a))
        diff_values(a, b, str(rel), problems)
    return count, problems


def _tensors(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _tensors(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _tensors(v)


def compare_metrics(before: Path, after: Path) -> list[str]:
    """Per metrics.jsonl, the non-timing keys whose values differ, with the largest
    relative difference."""
    notes = []
    for rel in sorted(p.relative_to(before) for p in before.rglob("metrics.jsonl")):
        a = [json.loads(line) for line in (before / rel).read_text().splitlines() if line]
        b = [json.loads(line) for line in (after / rel).read_text().splitlines() if line]
        if len(a) != len(b):
            notes.append(f"{rel}: {len(a)} vs {len(b)} records")
            continue
        worst: dict[str, float] = {}
        for ra, rb in zip(a, b, strict=True):
            for k in sorted(set(ra) | set(rb)):
                if k in TIMING_KEYS:
                    continue
                va, vb = ra.get(k), rb.get(k)
                if va == vb or (isinstance(va, float) and isinstance(vb, float)
                                and va != va and vb != vb):
                    continue
                if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
                    rel_d = abs(va - vb) / max(abs(va), abs(vb), 1e-30)
                    worst[k] = max(worst.get(k, 0.0), rel_d)
                else:
                    worst[k] = float("inf")
        for k, v in worst.items():
            notes.append(f"{rel}: {k} differs, largest relative difference {v:.2e}")
    return notes


def _table_without_timing(path: Path) -> tuple[Any, Any]:
    """(header, body) of a comparison table, without its wall-clock readings."""
    if path.suffix == ".json":
        return None, _drop(json.loads(path.read_text()), {"elapsed", "seconds"})
    lines = [re.sub(r"wall time [0-9.]+ s", "wall time", line)
             for line in path.read_text().splitlines()]
    rows = [line.split(" | ") for line in lines]
    header = next(i for i, r in enumerate(rows) if any("train s" in c for c in r))
    col = next(i for i, c in enumerate(rows[header]) if "train s" in c)
    body = [" | ".join(c for i, c in enumerate(r) if i != col)
            if len(r) == len(rows[header]) else lines[k] for k, r in enumerate(rows)]
    return body[header], body[:header] + body[header + 1:]


def _drop(x: Any, keys: set[str]) -> Any:
    if isinstance(x, dict):
        return {k: _drop(v, keys) for k, v in x.items() if k not in keys}
    if isinstance(x, list):
        return [_drop(v, keys) for v in x]
    return x


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", help="the old checkout's gankit executable")
    p.add_argument("--after", help="the new checkout's gankit executable")
    p.add_argument("--out", type=Path, required=True,
                   help="folder for both runs' artefacts (outside both checkouts)")
    p.add_argument("--compare-only", action="store_true",
                   help="only compare --out/before and --out/after, made earlier")
    args = p.parse_args(argv)
    before, after = args.out / "before", args.out / "after"
    if not args.compare_only:
        for exe, folder in ((args.before, before), (args.after, after)):
            if not exe:
                p.error("--before and --after are needed unless --compare-only")
            if not folder.exists():
                print(f"running {exe} in {folder} ...", flush=True)
                produce(exe, folder)
    bad = False
    a, b = (np.load(f / "smoke-sample.npy") for f in (before, after))
    same = a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    bad |= not same
    print(f"sample --seed 1 .npy {a.shape} {a.dtype}: {'identical' if same else 'DIFFERS'}")
    count, problems = compare_checkpoints(before, after)
    bad |= bool(problems)
    n_ckpt = len(list(before.rglob("*.pt")))
    print(f"checkpoints: {n_ckpt} files, {count} tensors: "
          f"{'identical' if not problems else 'DIFFER'}")
    for line in problems[:50]:
        print("  ", line)
    for name in ("compare", "compare-gp"):
        for table in ("table.md", "table.json"):
            (head_a, body_a), (head_b, body_b) = (_table_without_timing(f / name / table)
                                                  for f in (before, after))
            same = body_a == body_b
            bad |= not same
            print(f"{name}/{table} (wall-clock readings aside): "
                  f"{'identical' if same else 'DIFFERS'}")
            if head_a != head_b:
                print(f"   header before: {head_a}\n   header after:  {head_b}")
    notes = compare_metrics(before, after)
    print(f"metrics.jsonl (timings aside): {'identical' if not notes else 'differences:'}")
    for line in notes:
        print("  ", line)
    print("VERDICT:", "DIFFERENT" if bad else "bit for bit identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
