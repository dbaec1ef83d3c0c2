"""gankit.validation: a config checked against this machine and itself."""

from __future__ import annotations

import os

from reliability_support import (
    make_idx_dir,
    one_line_error,
)

from gankit.cli import main


def test_threads_are_bounded_by_the_cpus(capsys):
    rc = main(["train", "--preset", "smoke", "--set", "train.threads=100000"])
    one_line_error(capsys, rc, "train.threads=100000", f"0..{os.cpu_count()}")


def test_n_critic_above_the_iterations_of_an_epoch(tmp_path, capsys):
    data = make_idx_dir(tmp_path / "idx")  # 256 images, batch 32: 8 iterations an epoch
    rc = main(["train", "--preset", "smoke", "--set", "data.dataset=idx", "--data-dir",
               str(data), "--batch-size", "32", "--n-critic", "1000", "--out",
               str(tmp_path / "run")])
    one_line_error(capsys, rc, "n_critic=1000", "8 iterations")
