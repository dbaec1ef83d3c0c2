"""gankit.runs.loop: a run's default folder, the arguments `train` refuses, and what one
run leaves in its folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from reliability_support import make_idx_dir, quiet, small_config

from gankit.errors import GankitError
from gankit.log import read_metrics
from gankit.runs.loop import default_run_dir, train


def test_default_run_dir_is_runs_preset_game_stamp(make_config) -> None:
    cfg = make_config(**{"loss.game": "minimax"})
    path = default_run_dir(cfg)
    assert path.parent == Path("runs")
    assert re.fullmatch(r"smoke-minimax-\d{8}-\d{6}", path.name)


def test_train_refuses_a_resume_without_folder_and_a_new_run_without_config() -> None:
    with pytest.raises(GankitError, match="--out RUN_DIR"):
        train(None, None, resume=True, log=quiet)
    with pytest.raises(GankitError, match="needs a config"):
        train(None, None, log=quiet)


def test_train_logs_one_record_per_epoch_and_checkpoints(tmp_path: Path) -> None:
    cfg = small_config(make_idx_dir(tmp_path / "idx"), **{"train.epochs": 2})
    run = train(cfg, tmp_path / "run", log=quiet)
    assert run == tmp_path / "run"
    assert [r["epoch"] for r in read_metrics(run / "metrics.jsonl")] == [1, 2]
    assert (run / "checkpoints" / "epoch_0002.pt").is_file()
