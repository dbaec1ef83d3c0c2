"""What the time-to-quality peers share: their command line, MNIST in memory, the training
clock and the snapshots (benchmarks/time_to_quality.py runs them and scores the snapshots).

A peer trains until `--budget` seconds of training; each time its training clock passes the
next of `--marks`, it stops the clock, writes 10,000 samples and starts the clock again, so
sampling and writing never count as training. Snapshots: OUT/t<seconds>.npy, float32
(N, 28, 28) in [-1, 1], one line each in OUT/snapshots.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

SNAPSHOT_N = 10_000
"""Samples per snapshot: the benchmark's FID is on 10,000 samples."""


def parse_args(description: str) -> argparse.Namespace:
    """--seed, --budget (training seconds), --marks (seconds, comma-separated), --threads, --out."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", type=float, default=600.0, help="seconds of training")
    p.add_argument("--marks", default="60,120,300,600",
                   help="training seconds at which to write samples (comma-separated)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    a.marks = sorted(float(m) for m in a.marks.split(",") if m)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    a.out.mkdir(parents=True, exist_ok=True)
    return a


def mnist_images(pad: int = 0) -> torch.Tensor:
    """MNIST's 60,000 training images as (N, 1, 28 + 2 pad, ...) float32 in [-1, 1]; `pad`
    pixels of background (-1) on each side (32 x 32 for pad 2, cropped off again by
    `Clock.snapshot`)."""
    from gankit.data.mnist import load_mnist

    x, _ = load_mnist("train")
    t = torch.from_numpy(x).float().div(127.5).sub(1.0).unsqueeze(1)  # (N, 1, 28, 28)
    return torch.nn.functional.pad(t, (pad,) * 4, value=-1.0) if pad else t


class Clock:
    """Training seconds (the wall clock, stopped while snapshots are written)."""

    def __init__(self, budget: float, marks: list[float], out: Path) -> None:
        self.budget = budget
        self.marks = [m for m in marks if m <= budget]
        self.out = out
        self.trained = 0.0
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return self.trained + time.perf_counter() - self.started

    def tick(self, sample: Callable[[int], torch.Tensor], epoch: int, iteration: int,
             crop: int = 0) -> bool:
        """After an iteration: snapshot if a mark has passed; False once the budget is spent.

        `sample(n)` returns n images (n, 1, H, W) in [-1, 1]; `crop` pixels come off each side.
        """
        now = self.seconds()
        while self.marks and now >= self.marks[0]:
            self.marks.pop(0)
            self.trained = now  # the clock stops here ...
            with torch.no_grad():
                images = sample(SNAPSHOT_N)
            if crop:
                images = images[..., crop:-crop, crop:-crop]
            name = f"t{now:07.1f}.npy"
            np.save(self.out / name, images.reshape(-1, 28, 28).float().numpy())
            with open(self.out / "snapshots.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps({"seconds": round(now, 2), "epoch": epoch,
                                    "iteration": iteration, "file": name}) + "\n")
            self.started = time.perf_counter()  # ... and runs again from here
        return now < self.budget


def in_batches(g: Callable[[int], torch.Tensor], n: int, batch: int) -> torch.Tensor:
    """n samples from g(b) drawn `batch` at a time (as the peers draw them in training)."""
    return torch.cat([g(min(batch, n - i)) for i in range(0, n, batch)])
