"""Optional TensorBoard logging: scalars and grids land in event files; a clear error without
the package; `--tensorboard` sets the config key."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import pytest
import torch

from gankit.errors import GankitError
from gankit.runs.tb import MISSING, require_tensorboard


def test_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(GankitError, match=r"gankit\[tensorboard\]"):
        require_tensorboard()
    assert "--tensorboard" in MISSING


def test_flag_sets_config_key() -> None:
    from gankit.commands import train

    parser = argparse.ArgumentParser()
    train.add_parser(parser.add_subparsers())
    on = train.overrides_from_args(parser.parse_args(["train", "--tensorboard"]))
    off = train.overrides_from_args(parser.parse_args(["train"]))
    assert on["train.tensorboard"] is True and "train.tensorboard" not in off


def test_scalars_and_grids_in_event_files(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from gankit.runs.tb import TensorBoardLogger

    logger = TensorBoardLogger(tmp_path / "tb")
    for epoch, loss in ((1, 1.25), (2, 0.75)):
        logger.log({"epoch": epoch, "iteration": 10 * epoch, "loss_d": loss, "d_real": 0.5,
                    "note": "text is skipped", "flag": True, "new_stat": 3})
    logger.log_images("samples", torch.zeros(4, 1, 8, 8), step=2, nrow=2)
    logger.close()
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0})
    acc.Reload()
    tags = acc.Tags()
    assert set(tags["scalars"]) == {"loss/D", "D_output/real_D(x)", "other/new_stat"}
    events = acc.Scalars("loss/D")
    assert [(e.step, e.value) for e in events] == [(1, 1.25), (2, 0.75)]
    assert tags["images"] == ["samples"]
    image = acc.Images("samples")[0]
    assert image.step == 2 and (image.width, image.height) == (2 + 2 * 10, 2 + 2 * 10)


def test_train_with_tensorboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tensorboard")
    import gankit.runs.loop as run_mod
    from gankit.config import build_config
    from gankit.data import Dataset

    data = torch.rand(128, 1, 28, 28) * 2 - 1
    monkeypatch.setattr(run_mod, "load_dataset", lambda c, log=None: Dataset("random", data))
    cfg = build_config("smoke", overrides={"train.epochs": 1, "train.device": "cpu",
                                           "train.tensorboard": True})
    out = run_mod.train(cfg, tmp_path / "run", log=lambda s: None)
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert (out / "metrics.jsonl").is_file()  # JSONL stays on
