"""benchmarks/time_to_quality.py and its peers: the clock that leaves sampling out, the
summary's arithmetic, and the peers' networks as their sources describe them."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH / "peers"))

import dcgan_tutorial  # noqa: E402
import harness  # noqa: E402
import pytorch_gan_mlp  # noqa: E402
import time_to_quality as ttq  # noqa: E402


def test_the_clock_stops_while_samples_are_written(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "SNAPSHOT_N", 8)

    def slow_sample(n: int) -> torch.Tensor:
        time.sleep(0.3)  # drawing and writing samples: never training time
        return torch.zeros(n, 1, 32, 32)

    clock = harness.Clock(budget=0.25, marks=[0.05, 0.1, 0.5], out=tmp_path)
    ticks = 0
    while clock.tick(slow_sample, epoch=1, iteration=ticks, crop=2):
        time.sleep(0.01)
        ticks += 1
    lines = [json.loads(x) for x in (tmp_path / "snapshots.jsonl").read_text().splitlines()]
    assert len(lines) == 2  # 0.5 is past the budget
    assert 0.05 <= lines[0]["seconds"] < 0.09 and 0.1 <= lines[1]["seconds"] < 0.14
    assert 0.25 <= clock.seconds() < 0.45  # two 0.3 s snapshots left out
    import numpy as np

    assert np.load(tmp_path / lines[0]["file"]).shape == (8, 28, 28)  # cropped to 28 x 28


def test_fid_by_and_time_to_read_the_curve_as_a_learner_would():
    rows = [{"seconds": 60, "fid": 300.0}, {"seconds": 120, "fid": 90.0},
            {"seconds": 300, "fid": 120.0}, {"seconds": 600, "fid": 40.0}]
    assert ttq.fid_by(rows, 30) is None
    assert ttq.fid_by(rows, 299) == 90.0  # the best snapshot so far
    assert ttq.fid_by([{"seconds": 600.6, "fid": 5.0}], 600) == 5.0  # written just after
    assert ttq.time_to(rows, 100.0) == 120
    assert ttq.time_to(rows, 10.0) is None


def test_the_summary_sets_the_target_by_the_best_peer_and_divides_times():
    curves = {
        ttq.CANDIDATE: [{"seconds": 100, "fid": 50.0}, {"seconds": 200, "fid": 20.0}],
        "keras": [{"seconds": 300, "fid": 80.0}, {"seconds": 600, "fid": 60.0}],
        "pytorch-gan": [{"seconds": 300, "fid": 30.0}, {"seconds": 600, "fid": 25.0}],
    }
    s = ttq.summarise(curves, budget=600)
    assert s["best_peer"] == "pytorch-gan" and s["target_fid"] == 25.0
    assert s["table"][ttq.CANDIDATE]["seconds_to_target"] == 200
    assert s["table"]["keras"]["seconds_to_target"] is None
    assert s["candidate_over_best_peer"] == pytest.approx(200 / 600)


def test_extra_seeds_name_the_preset_and_seed():
    assert ttq.split("dcgan-candidate-s2", 7) == ("dcgan-candidate", 2)
    assert ttq.split("default", 7) == ("default", 7)
    assert ttq.split("dcgan-tutorial") == ("dcgan-tutorial", 0)


def test_the_dcgan_tutorial_peer_has_the_tutorials_layers_at_32_pixels():
    g, d = dcgan_tutorial.Generator(), dcgan_tutorial.Discriminator()
    x = g(torch.randn(3, 100, 1, 1))
    assert x.shape == (3, 1, 32, 32) and x.abs().max() <= 1
    assert d(x).shape == (3,) and ((d(x) > 0) & (d(x) < 1)).all()
    convs = [m for m in g.main if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [m.out_channels for m in convs] == [256, 128, 64, 1]  # ngf * 4, * 2, * 1, nc
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in d.main) == 2  # not on D's input


def test_the_pytorch_gan_peer_keeps_gan_py_quirks():
    g, d = pytorch_gan_mlp.Generator(), pytorch_gan_mlp.Discriminator()
    norms = [m for m in g.model if isinstance(m, torch.nn.BatchNorm1d)]
    assert [m.num_features for m in norms] == [256, 512, 1024] and norms[0].eps == 0.8
    assert g(torch.randn(4, 100)).shape == (4, 1, 28, 28)
    assert d(torch.zeros(4, 1, 28, 28)).shape == (4, 1)
