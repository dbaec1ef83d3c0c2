"""`gankit sample --digit K` and `--per-class` for conditional checkpoints."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from reliability_support import (
    one_line_error,
    small_run,
)

from gankit.cli import main
from gankit.commands import sample as sample_cmd
from gankit.commands.sample import sample_labels
from gankit.config import build_config
from gankit.core.trainer import Trainer
from gankit.errors import GankitError
from gankit.runs.checkpoint import save_atomic


def test_sample_labels() -> None:
    labels, n, nrow = sample_labels(10, None, 7, False, None)
    assert n == 100 and labels.unique().tolist() == [7]
    labels, n, nrow = sample_labels(10, None, None, True, None)
    assert (n, nrow) == (100, 10) and labels.view(10, 10)[:, 0].tolist() == list(range(10))
    labels, n, nrow = sample_labels(3, 4, None, True, None)
    assert (n, nrow) == (12, 4)
    assert sample_labels(0, None, None, False, None) == (None, 100, None)
    with pytest.raises(GankitError, match="0..9"):
        sample_labels(10, 5, 10, False, None)
    with pytest.raises(GankitError, match="not conditional"):
        sample_labels(0, 5, 7, False, None)


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    sample_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["sample", *argv])
    return args.func(args)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = build_config("smoke", overrides={"model.z_dim": 8, "model.g_hidden": [16],
                                           "model.d_hidden": [16], "train.batch_size": 8,
                                           "model.conditional": True})
    t = Trainer(cfg, torch.rand(16, 1, 28, 28) * 2 - 1, labels=torch.arange(16) % 10)
    return save_atomic(t.state_dict(), tmp_path_factory.mktemp("ck") / "c.pt")


def test_digit_and_per_class_write_their_files(checkpoint: Path, tmp_path: Path) -> None:
    assert _run("--checkpoint", str(checkpoint), "--digit", "7", "--n", "6",
                "--out", str(tmp_path / "sevens.npy")) == 0
    assert np.load(tmp_path / "sevens.npy").shape == (6, 28, 28)
    assert _run("--checkpoint", str(checkpoint), "--per-class",
                "--out", str(tmp_path / "grid.png")) == 0
    assert (tmp_path / "grid.png").stat().st_size > 0
    with pytest.raises(SystemExit):  # argparse: not both
        _run("--checkpoint", str(checkpoint), "--per-class", "--digit", "1")


def test_a_full_disk_keeps_the_old_npy(checkpoint: Path, tmp_path: Path) -> None:
    import resource

    out = tmp_path / "x.npy"
    out.write_bytes(b"yesterday's samples")

    def cap() -> None:  # `ulimit -f`: files capped at 20 kB; 100 images are 78 kB
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    done = subprocess.run([sys.executable, "-m", "gankit", "sample", "--checkpoint",
                           str(checkpoint), "--out", str(out)], preexec_fn=cap,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-2000:]
    assert out.read_bytes() == b"yesterday's samples" and os.listdir(tmp_path) == ["x.npy"]


@pytest.mark.parametrize("device", ["meta", "mps", "xla", "hpu", "xpu", "cuda:x"])
def test_an_unusable_device_is_refused_as_train_refuses_it(checkpoint: Path, tmp_path: Path,
                                                           device: str, capsys) -> None:
    from gankit.cli import main

    out = tmp_path / "s.png"
    assert main(["sample", "--checkpoint", str(checkpoint), "--out", str(out),
                 "--device", device]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "use auto, cpu, cuda or cuda:N" in err and not out.exists()


def test_per_class_honours_nrow(checkpoint: Path, tmp_path: Path) -> None:
    from PIL import Image

    assert _run("--checkpoint", str(checkpoint), "--per-class", "--n", "4", "--nrow", "5",
                "--out", str(tmp_path / "pc.png")) == 0
    assert _run("--checkpoint", str(checkpoint), "--n", "40", "--nrow", "5",
                "--out", str(tmp_path / "plain.png")) == 0
    with Image.open(tmp_path / "pc.png") as a, Image.open(tmp_path / "plain.png") as b:
        assert a.size == b.size  # 40 images in rows of 5, not 10 rows of 4
        assert a.height > a.width


def test_eval_and_sample_sizes_are_checked_before_allocating(tmp_path, capsys):
    header = tmp_path / "many.npy"  # only a header: 100,000 images that are not there
    with open(header, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "|u1", "fortran_order": False, "shape": (100_000, 28, 28)})
    one_line_error(capsys, main(["eval", "--images", str(header)]), "100000 images")
    one_line_error(capsys, main(["eval", "some-run", "--n", "100000000"]), "--n 100000000")
    run = small_run(tmp_path, epochs=1)
    rc = main(["sample", "--checkpoint", str(run), "--interpolate", "--steps", "100000000"])
    one_line_error(capsys, rc, "--steps 100000000")
    rc = main(["sample", "--checkpoint", str(run), "--interpolate", "--steps", "900",
               "--n", "900"])
    one_line_error(capsys, rc, "GIF images")
