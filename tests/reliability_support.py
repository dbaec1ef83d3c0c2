"""Helpers for the reliability tests: a small synthetic run, in process or as a subprocess.

`synthetic_dataset` stands in for `gankit.data.load_dataset` (no MNIST needed): 256
deterministic 8x8 'images'. `CHILD` is a script that runs the real `gankit train` command
(`gankit.commands.train.run`, the same code path as the CLI) on that data, so that a test can
kill it with SIGKILL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config, build_config
from gankit.data import Dataset

HERE = Path(__file__).resolve().parent
CHILD = HERE / "reliability_child.py"

SMALL = {
    "model.z_dim": 16,
    "model.g_hidden": [128, 128],
    "model.d_hidden": [128, 128],
    "train.batch_size": 32,
    "train.epochs": 4,
    "train.sample_every": 100,
    "train.checkpoint_every": 1,
    "train.keep_checkpoints": 3,
    "train.progress": False,
    "train.device": "cpu",
}
"""A run of 8 iterations per epoch on the synthetic data, checkpointed every epoch."""


def synthetic_dataset(cfg: Any = None, log: Any = None) -> Dataset:
    """256 deterministic 1x8x8 samples in [-1, 1] (stand-in for load_dataset)."""
    gen = torch.Generator().manual_seed(1234)
    return Dataset("synthetic", torch.rand(256, 1, 8, 8, generator=gen) * 2 - 1)


def small_config(**extra: Any) -> Config:
    """The SMALL run config, with dotted overrides."""
    over = dict(SMALL)
    over.update(extra)
    return build_config("smoke", overrides=over)


def child_argv(out: Path, *extra: str) -> list[str]:
    """argv of a `gankit train` subprocess on the synthetic data (SMALL config)."""
    argv = [sys.executable, str(CHILD), "--preset", "smoke", "--out", str(out)]
    for key, value in SMALL.items():
        text = str(value).replace(" ", "") if isinstance(value, list) else str(value)
        argv += ["--set", f"{key}={text}"]
    return argv + list(extra)


def resume_argv(out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(CHILD), "--resume", "--out", str(out), *extra]


def child_env() -> dict[str, str]:
    """One thread per process: identical arithmetic in every run, and kind to shared CPUs."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONPATH": str(HERE.parent / "src")})
    return env


def run_child(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=child_env(), capture_output=True, text=True, timeout=timeout)


def final_tensors(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Every tensor of a state's G, D and both optimisers, flattened to names."""
    out: dict[str, torch.Tensor] = {}

    def walk(prefix: str, obj: Any) -> None:
        if isinstance(obj, torch.Tensor):
            out[prefix] = obj
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{prefix}.{k}", v)
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(f"{prefix}.{i}", v)

    for key in ("g", "d", "opt_g", "opt_d", "rng", "fixed_z"):
        walk(key, state[key])
    return out
