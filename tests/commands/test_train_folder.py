"""End to end: a conditional DCGAN with EMA on your own image folder, then sample and export."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.commands import export as export_cmd


@pytest.fixture
def picture_folder(tmp_path: Path) -> Path:
    """3 classes x 8 colour pictures of other sizes, plus one broken file."""
    rng = np.random.default_rng(0)
    root = tmp_path / "pics"
    for k, name in enumerate(["circles", "lines", "dots"]):
        (root / name).mkdir(parents=True)
        for i in range(8):
            arr = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
            arr[..., k] = 255
            Image.fromarray(arr).save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    (root / "dots" / "broken.png").write_bytes(b"\x89PNG but not really")
    return root


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_folder_conditional_dcgan_run_then_sample_and_export(
    tmp_path: Path, picture_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["train", "--preset", "smoke", "--data", f"folder:{picture_folder}",
                 "--model", "dcgan", "--set", "model.width=4", "--conditional", "--ema", "0.9",
                 "--loss", "hinge", "--n-critic", "2", "--batch-size", "8", "--epochs", "1",
                 "--out", str(out)]) == 0
    assert "broken.png" in capsys.readouterr().out  # the skipped file is named
    grid = Image.open(out / "samples" / "epoch_0001.png")
    assert grid.mode == "RGB"
    state = torch.load(out / "checkpoints" / "epoch_0001.pt", weights_only=True)
    assert state["sample_shape"] == [3, 32, 32] and state["n_classes"] == 3
    assert state["g_steps"] == 1 and "ema" in state  # 3 iterations, n_critic 2

    assert main(["sample", "--checkpoint", str(out), "--digit", "2", "--n", "4",
                 "--out", str(tmp_path / "twos.npy")]) == 0
    assert np.load(tmp_path / "twos.npy").shape == (4, 32, 32, 3)
    assert main(["sample", "--checkpoint", str(out), "--digit", "3"]) == 2  # one-line error
    assert "0..2" in capsys.readouterr().err

    parser = argparse.ArgumentParser()
    export_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["export", "--checkpoint", str(out), "--out",
                              str(tmp_path / "g.pt")])
    assert args.func(args) == 0
    g = torch.jit.load(str(tmp_path / "g.pt"))
    assert g(torch.randn(2, 100), torch.tensor([0, 2])).shape == (2, 3, 32, 32)


def test_conditional_on_an_unlabelled_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    assert main(["train", "--preset", "smoke", "--data", f"folder:{tmp_path}", "--conditional",
                 "--batch-size", "1", "--out", str(tmp_path / "run")]) == 2
    assert "needs class labels" in capsys.readouterr().err
