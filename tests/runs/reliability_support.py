"""Helpers for the reliability tests: a small run on a synthetic IDX folder, in process or as
a `python -m gankit train` subprocess (that a test can SIGKILL).

`make_idx_dir` writes 256 deterministic 8x8 images as MNIST-named IDX files, read through
the real `idx` data set (`--set data.dataset=idx --data-dir DIR`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.config import Config, build_config
from gankit.data.idx import write_idx

HERE = Path(__file__).resolve().parent

SMALL = {
    "data.dataset": "idx",
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


def make_idx_dir(folder: Path) -> Path:
    """A folder of MNIST-named IDX files: 256 deterministic 8x8 uint8 images, 10 labels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1234)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (256, 8, 8), np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", (np.arange(256) % 10).astype(np.uint8))
    return folder


def small_config(data_dir: Path, **extra: Any) -> Config:
    """The SMALL run config on the IDX folder `data_dir`, with dotted overrides."""
    over = dict(SMALL, **{"data.data_dir": str(data_dir)})
    over.update(extra)
    return build_config("smoke", overrides=over)


def child_argv(out: Path, data_dir: Path, *extra: str) -> list[str]:
    """argv of a `python -m gankit train` subprocess (SMALL config on `data_dir`)."""
    argv = [sys.executable, "-m", "gankit", "train", "--preset", "smoke", "--out", str(out),
            "--data-dir", str(data_dir)]
    for key, value in SMALL.items():
        text = str(value).replace(" ", "") if isinstance(value, list) else str(value)
        argv += ["--set", f"{key}={text}"]
    return argv + list(extra)


def resume_argv(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gankit", "train", "--resume", "--out", str(out), *extra]


def child_env() -> dict[str, str]:
    """One thread per process: identical arithmetic in every run, and kind to shared CPUs."""
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "PYTHONPATH": str(HERE.parents[1] / "src")})
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
