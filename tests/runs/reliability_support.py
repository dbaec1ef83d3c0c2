"""Helpers for the reliability tests: a small run on a synthetic IDX folder, in process or as
a `python -m gankit train` subprocess (that a test can SIGKILL); and for the hostile-input
tests of every module (tests/conftest.py puts this folder on sys.path): hypothesis settings
and strategies of junk, `outcome` (a result or one bounded error line), `one_line_error`.

`make_idx_dir` writes 256 deterministic 8x8 images as MNIST-named IDX files, read through
the real `idx` data set (`--set data.dataset=idx --data-dir DIR`).
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from gankit.config import Config, build_config
from gankit.data.idx import write_idx
from gankit.errors import MAX_MESSAGE, GankitError

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


TINY = {"model.g_hidden": [32], "model.d_hidden": [32], "train.epochs": 4}
"""Overrides of the SMALL config for the 4-epoch runs of the fault and guard tests (the
`data` and `cfg` fixtures of tests/runs/conftest.py)."""


def train_logged(out: Path, cfg: Config) -> list[str]:
    """Train `cfg` into `out` in process; the lines it logged."""
    from gankit.runs.loop import train

    lines: list[str] = []
    train(cfg, out, log=lines.append)
    return lines


def tiny_train_argv(out: Path, data: Path, **over: Any) -> list[str]:
    """`gankit train` argv for the TINY run on the IDX folder, with overrides."""
    sets = {**TINY, "data.dataset": "idx", "train.batch_size": 32, **over}
    return ["train", "--preset", "smoke", "--out", str(out), "--data-dir", str(data),
            "--no-progress", *[f"--set={k}={v}".replace(" ", "") for k, v in sets.items()]]


def cli_outcome(argv: list[str], capsys: Any) -> tuple[int, str]:
    """(exit status, stripped stderr) of `gankit argv` run in process."""
    from gankit.cli import main

    rc = main(argv)
    return rc, capsys.readouterr().err.strip()


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


# --------------------------------------------------------------------- hostile use and inputs
def quiet(_: str) -> None:
    """A `log` that says nothing."""


def small_run(tmp_path: Path, name: str = "run", epochs: int = 2, **extra: Any) -> Path:
    """A SMALL run (8 iterations an epoch on 8x8 IDX images) trained for `epochs`."""
    from gankit.runs.loop import train

    data = tmp_path / "idx"
    if not data.is_dir():
        make_idx_dir(data)
    cfg = small_config(data, **{"train.epochs": epochs, **extra})
    return train(cfg, tmp_path / name, log=quiet)


def checkpoint_epochs(run: Path) -> list[int]:
    """The epochs of the run's checkpoint files, oldest first."""
    from gankit.runs import checkpoint as ckpt

    return [ckpt.epoch_of_name(p) for p in ckpt.list_checkpoints(run)]


def one_line_error(capsys: Any, rc: int, *needles: str) -> str:
    """The command failed with exactly one stderr line holding every needle; returns it."""
    err = capsys.readouterr().err.strip()
    assert rc != 0, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def png_bomb(path: Path, side: int = 100_000) -> Path:
    """A small valid PNG whose header claims side x side pixels."""
    from PIL import Image

    Image.new("L", (28, 28)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = struct.pack(">II", side, side) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """fn(...)'s result, or None after a one-line, bounded GankitError; others propagate."""
    try:
        return fn(*args, **kwargs)
    except GankitError as err:
        text = str(err)
        assert text and "\n" not in text and len(text) <= MAX_MESSAGE
        return None


def scratch_folder() -> Path:
    """A new empty folder (hypothesis examples share a test's tmp_path, so each takes one)."""
    return Path(tempfile.mkdtemp(prefix="gankit-hostile-"))


N = int(os.environ.get("GANKIT_FUZZ_EXAMPLES", "0"))
"""Examples per property test when set (a longer fuzzing session); 0: each test's default."""


def examples(default: int) -> settings:
    """`default` examples (GANKIT_FUZZ_EXAMPLES overrides), no deadline, fixtures allowed."""
    return settings(max_examples=N or default, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


FAST = settings(max_examples=60, deadline=2000,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
"""60 examples, 2 s each at most."""

NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
                min_size=1, max_size=20).filter(lambda s: s not in (".", ".."))
"""File names: any printable unicode (no separators, no surrogates)."""

JUNK_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from([0, -1, 1, 2**63, 10**12, "", "abc", [], {}, [1, -3], [10**9] * 3]),
)
JUNK = st.recursive(JUNK_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
TENSORS = st.builds(
    lambda shape, dtype, fill: torch.full(shape, fill).to(dtype),
    st.lists(st.integers(0, 5), max_size=3).map(tuple),
    st.sampled_from([torch.float32, torch.float64, torch.uint8, torch.int64, torch.bool]),
    st.sampled_from([0.0, 1.0, float("nan"), float("inf")]),
)
JUNK_VALUES = st.one_of(JUNK, TENSORS)
"""Any value a field of a file may be replaced by: scalars, nested junk, odd tensors."""
