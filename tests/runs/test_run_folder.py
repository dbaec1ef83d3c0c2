"""gankit.runs.folder: the run folder's files, its run id, and a failed write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from reliability_support import (
    child_env,
    make_idx_dir,
    small_run,
)

from gankit.errors import CheckpointError
from gankit.runs import checkpoint as ckpt


def _run_id(run: Path) -> str:
    return yaml.safe_load((run / "config.yaml").read_text())["run_id"]


def test_every_checkpoint_of_a_run_carries_its_run_id(tmp_path):
    a, b = small_run(tmp_path, "a", epochs=1), small_run(tmp_path, "b", epochs=1)
    assert _run_id(a) != _run_id(b)
    assert ckpt.load_valid(a / "checkpoints" / "epoch_0001.pt")["run_id"] == _run_id(a)
    with pytest.raises(CheckpointError, match="belongs to another run"):
        ckpt.load_valid(a / "checkpoints" / "epoch_0001.pt", run_id=_run_id(b))


def test_a_full_disk_ends_in_one_line(tmp_path):
    """RLIMIT_FSIZE makes writes past 64 kB fail with EFBIG, as a full disk fails them."""
    make_idx_dir(tmp_path / "idx")
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)); "
            "from gankit.cli import main; sys.exit(main(sys.argv[1:]))")
    argv = [sys.executable, "-c", code, "train", "--preset", "smoke", "--out",
            str(tmp_path / "run"), "--data-dir", str(tmp_path / "idx"), "--set",
            "data.dataset=idx", "--set", "model.g_hidden=[64]", "--set", "model.d_hidden=[64]",
            "--batch-size", "32", "--epochs", "1", "--no-progress"]
    done = subprocess.run(argv, env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0] and "epoch_0001.pt" in lines[0], lines
    assert not list((tmp_path / "run" / "checkpoints").glob("epoch_*"))
