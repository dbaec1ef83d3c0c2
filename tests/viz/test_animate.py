"""Animations: slerp's geometry, the interpolation loop, GIF writing, `sample --interpolate`."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import build_config
from gankit.core.trainer import Trainer
from gankit.errors import GankitError
from gankit.runs import checkpoint as ckpt
from gankit.viz.animate import interpolation_path, progress_gif, save_gif, slerp
from gankit.viz.images import save_grid


def test_slerp_endpoints_and_norm() -> None:
    gen = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 5, 64, generator=gen)
    torch.testing.assert_close(slerp(z0, z1, 0.0), z0)
    torch.testing.assert_close(slerp(z0, z1, 1.0), z1)
    # equal norms stay equal all along the arc (a straight line would shrink them)
    u0 = z0 / z0.norm(dim=-1, keepdim=True) * 8.0
    u1 = z1 / z1.norm(dim=-1, keepdim=True) * 8.0
    for t in (0.25, 0.5, 0.9):
        torch.testing.assert_close(slerp(u0, u1, t).norm(dim=-1), torch.full((5,), 8.0))
    assert (torch.lerp(u0, u1, 0.5).norm(dim=-1) < 8.0).all()


def test_slerp_closed_forms() -> None:
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    # a quarter circle: at t the angle is t * pi / 2
    for t in (0.0, 1 / 3, 0.5, 1.0):
        a = t * math.pi / 2
        torch.testing.assert_close(slerp(e0, e1, t), torch.tensor([math.cos(a), math.sin(a)]))
    # parallel directions fall back to a straight line, no NaN
    z = torch.tensor([3.0, 4.0])
    torch.testing.assert_close(slerp(z, 2 * z, 0.5), 1.5 * z)


def test_interpolation_path_loops() -> None:
    keys = torch.randn(4, 3, 8, generator=torch.Generator().manual_seed(1))
    path = interpolation_path(keys, steps=5)
    assert path.shape == (20, 3, 8)
    for k in range(4):
        torch.testing.assert_close(path[5 * k], keys[k])
    # the last frame is one step before keys[0]: the loop closes without a repeat
    torch.testing.assert_close(path[-1], slerp(keys[3], keys[0], 0.8))


def test_interpolation_path_open_ends_on_the_last_key() -> None:
    keys = torch.randn(3, 2, 8, generator=torch.Generator().manual_seed(2))
    path = interpolation_path(keys, steps=4, loop=False)
    assert path.shape == (9, 2, 8)
    torch.testing.assert_close(path[0], keys[0])
    assert torch.equal(path[-1], keys[2])  # the last key itself, not a slerp near it
    torch.testing.assert_close(path[6], slerp(keys[1], keys[2], 0.5))
    # the loop through the same keys is the open path through keys + keys[0], less its end
    closed = interpolation_path(keys, steps=4)
    assert torch.equal(closed, interpolation_path(torch.cat([keys, keys[:1]]), 4, False)[:-1])


def test_save_gif(tmp_path: Path) -> None:
    frames = [np.full((6, 8), v, dtype=np.uint8) for v in (0, 120, 255)]
    path = save_gif(frames, tmp_path / "a.gif", frame_ms=50, last_ms=500)
    with Image.open(path) as im:
        assert im.n_frames == 3 and im.size == (8, 6) and im.info["loop"] == 0
        im.seek(1)
        assert np.asarray(im.convert("L"))[0, 0] == 120
    with pytest.raises(GankitError, match="no frames"):
        save_gif([], tmp_path / "b.gif")


def test_progress_gif_captions_each_epoch(tmp_path: Path) -> None:
    paths = [save_grid(torch.zeros(4, 1, 8, 8) + v, tmp_path / f"epoch_{e:04d}.png", nrow=2)
             for e, v in ((1, -1.0), (5, 0.0), (10, 1.0))]
    gif = progress_gif(paths, tmp_path / "progress.gif")
    with Image.open(gif) as im, Image.open(paths[0]) as first:
        assert im.n_frames == 3
        assert im.width == first.width and im.height > first.height  # caption strip on top


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    cfg = build_config("smoke", overrides={"train.device": "cpu"})
    trainer = Trainer(cfg, torch.rand(64, 1, 28, 28) * 2 - 1)
    path = tmp_path / "run" / ckpt.CHECKPOINT_DIR / ckpt.checkpoint_name(trainer.epoch)
    ckpt.save_atomic(trainer.state_dict(), path)
    return path


def _sample(*argv: str) -> int:
    from gankit.commands import sample

    parser = argparse.ArgumentParser()
    sample.add_parser(parser.add_subparsers())
    args = parser.parse_args(["sample", *argv])
    return args.func(args)


def test_sample_interpolate_writes_a_looping_gif(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "interp.gif"
    assert _sample("--checkpoint", str(checkpoint), "--interpolate", "--n", "4",
                   "--steps", "3", "--out", str(out)) == 0
    with Image.open(out) as im:
        assert im.n_frames == 4 * 3  # 4 keyframes, 3 frames per segment
        # a 2 x 2 grid of 28 px digits with 2 px borders, upscaled 2x
        assert im.size == (2 * (2 + 2 * 30), 2 * (2 + 2 * 30))


def test_sample_interpolate_errors(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(GankitError, match=r"\.gif"):
        _sample("--checkpoint", str(checkpoint), "--interpolate", "--out",
                str(tmp_path / "x.png"))
    with pytest.raises(GankitError, match="--steps"):
        _sample("--checkpoint", str(checkpoint), "--interpolate", "--steps", "0")


def test_sample_grid_still_defaults_to_100(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.npy"
    assert _sample("--checkpoint", str(checkpoint), "--out", str(out)) == 0
    assert np.load(out).shape == (100, 28, 28)
