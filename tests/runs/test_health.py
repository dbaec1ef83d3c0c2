"""gankit.runs.health: the per-epoch checks for D winning, mode collapse and a stalled G."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gankit.config import Config, apply_overrides
from gankit.data.toy import get_toy
from gankit.runs.health import (
    D_WINS_BELOW,
    FLOOR_SHARE,
    MIN_CLASSES,
    PROBE_N,
    HealthMonitor,
    classes_present,
    mean_pairwise_distance,
)


def test_mean_pairwise_distance_closed_forms():
    # two points 5 apart: every pair (both orders) is 5 apart
    assert mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    # an equilateral triangle of side 2
    tri = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, math.sqrt(3.0)]])
    assert mean_pairwise_distance(tri) == pytest.approx(2.0)
    # the same point repeated: no diversity
    assert mean_pairwise_distance(torch.ones(10, 3)) == pytest.approx(0.0, abs=1e-12)


def test_classes_present_counts_classes_above_the_share():
    probs = np.zeros((200, 10))
    probs[:150, 3] = 1.0  # 75% threes
    probs[150:198, 5] = 1.0  # 24% fives
    probs[198:, 7] = 1.0  # 1% sevens: counts at min_share 0.01
    assert classes_present(probs) == 3
    assert classes_present(probs, min_share=0.02) == 2
    unsure = np.full((200, 10), 0.1)  # "not a digit": the extractor's uniform answer
    unsure[:, 3] = 0.11
    # the unsure rows add nothing and dilute: the sevens are now 0.5% of all the samples
    assert classes_present(np.vstack([probs, unsure]), confidence=0.5) == 2
    assert classes_present(unsure, confidence=0.5) == 0 and classes_present(unsure) == 1


def _probe_reads(digits_share: float, classes: int) -> np.ndarray:
    """PROBE_N rows of probabilities: `digits_share` of them confident digits spread over
    `classes` classes, the rest the uniform answer to a non-digit."""
    n_digits = int(PROBE_N * digits_share)
    probs = np.full((PROBE_N, 10), 0.1)
    probs[:n_digits] = 0.0
    probs[np.arange(n_digits), np.arange(n_digits) % classes] = 1.0
    return probs


@pytest.mark.parametrize(("share", "classes", "alarm"), [
    (0.2, 2, False),  # a first epoch's blurs: mostly not digits yet, not a collapse
    (0.6, 2, True),  # most samples are digits, of two kinds: collapse
    (0.9, 10, False),  # digits of every kind
])
def test_the_class_count_waits_until_the_samples_read_as_digits(digits, monkeypatch, share,
                                                               classes, alarm):
    import gankit.metrics.features as features

    mon = HealthMonitor(image_cfg(), digits, probabilistic=True)
    feats = np.random.default_rng(0).normal(size=(PROBE_N, 128))  # varied features
    monkeypatch.setattr(features, "extract", lambda ext, out: (feats, _probe_reads(share,
                                                                                   classes)))
    mon.digit_floor = 0.0  # the class count alone
    rec = record(1)
    mon.check(Lookup(digits), rec)
    assert ("mode_collapse" in rec["alarms"]) == alarm
    assert rec["probe_digits"] == pytest.approx(share)
    assert rec["probe_classes"] == classes


class Const(nn.Module):
    """A G that draws the same image (or point) whatever z is: total mode collapse."""

    def __init__(self, sample: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.sample = sample

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.sample.expand(z.shape[0], *self.sample.shape).clone() + 0 * self.w


class Lookup(nn.Module):
    """A G that returns real samples picked by z: as diverse as the data."""

    def __init__(self, data: torch.Tensor, shift: float = 0.0) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.data, self.shift = data, shift

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        idx = (z[:, 0].abs() * 1e4).long() % self.data.shape[0]
        return self.data[idx] + self.shift + 0 * self.w


@pytest.fixture
def digits() -> torch.Tensor:
    """300 rendered digits (all ten classes) as (N, 1, 28, 28) in [-1, 1]: the classifier
    reads them as digits, as it would MNIST."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
    from digits import render_digits

    images, _ = render_digits(300, seed=1)
    return torch.from_numpy(images).float().div(127.5).sub(1.0).unsqueeze(1)


def image_cfg(dataset: str = "mnist") -> Config:
    return apply_overrides(Config(), {"data.dataset": dataset, "model.z_dim": 8})


def record(epoch: int = 1, d_fake: float = 0.3) -> dict:
    return {"epoch": epoch, "d_real": 0.7, "d_fake": d_fake, "g_grad_norm": 1.0}


def test_d_winning_is_flagged_only_below_the_threshold(digits):
    mon = HealthMonitor(image_cfg(), digits, probabilistic=True)
    healthy = record(1, d_fake=0.3)
    assert mon.check(Lookup(digits), healthy) == []
    losing = record(2, d_fake=D_WINS_BELOW / 4)
    alarms = mon.check(Lookup(digits, shift=0.01), losing)
    assert [a.kind for a in alarms] == ["d_wins"] == losing["alarms"]
    assert "epoch 2" in alarms[0].message and f"{D_WINS_BELOW / 4:.3f}" in alarms[0].message
    assert "\n" not in alarms[0].message


def test_score_games_are_not_read_as_probabilities(toy_images):
    mon = HealthMonitor(image_cfg(), toy_images, probabilistic=False)
    rec = record(1, d_fake=-3.0)  # a mean WGAN score, not a probability
    mon.check(Lookup(toy_images), rec)
    assert "d_wins" not in rec["alarms"]


def test_a_constant_generator_is_mode_collapse_and_a_diverse_one_is_not(digits):
    mon = HealthMonitor(image_cfg(), digits, probabilistic=True)
    diverse = record(1)
    mon.check(Lookup(digits), diverse)
    assert diverse["alarms"] == []
    # printed digits are not MNIST handwriting: the extractor is sure of most classes, not all
    assert diverse["probe_diversity"] > 0.8 and diverse["probe_classes"] >= MIN_CLASSES
    collapsed = record(2)
    alarms = mon.check(Const(digits[0]), collapsed)
    assert "mode_collapse" in collapsed["alarms"]
    assert collapsed["probe_diversity"] < 1e-6
    assert collapsed["probe_classes"] < MIN_CLASSES
    assert any("mode collapse" in a.message for a in alarms)


def test_other_image_data_use_the_diversity_alone(toy_images):
    mon = HealthMonitor(image_cfg("idx"), toy_images, probabilistic=True)
    rec = record(1)
    mon.check(Const(toy_images[0]), rec)
    assert rec["alarms"] == ["mode_collapse"]
    assert "probe_classes" not in rec  # the digit classifier only reads MNIST


def test_a_generator_that_stops_moving_is_stalled(toy_images):
    mon = HealthMonitor(image_cfg("idx"), toy_images, probabilistic=True)
    g = Lookup(toy_images)
    first = record(1)
    mon.check(g, first)
    assert "g_change" not in first  # nothing to compare with yet
    second = record(2)
    mon.check(g, second)
    assert second["g_change"] == 0.0
    assert second["alarms"] == ["stalled"]
    third = record(3)
    mon.check(Lookup(toy_images, shift=0.05), third)
    assert third["g_change"] > 0.01 and "stalled" not in third["alarms"]


def test_toy_mode_collapse_on_the_ring():
    cfg = apply_overrides(Config(), {"data.dataset": "ring2d", "model.name": "toy-mlp",
                                     "model.z_dim": 4})
    toy = get_toy("ring2d")
    data = toy.sample(2000, torch.Generator().manual_seed(0))
    mon = HealthMonitor(cfg, data, probabilistic=True, toy=toy)
    one_mode = record(1)
    mon.check(Const(toy.centres[0].float()), one_mode)
    assert one_mode["alarms"] == ["mode_collapse"]
    all_modes = record(2)
    mon.check(Lookup(data, shift=0.0), all_modes)
    assert all_modes["alarms"] == []


def test_probe_leaves_the_run_untouched(toy_images):
    """The probe draws from its own generator: the global RNG is not advanced."""
    mon = HealthMonitor(image_cfg(), toy_images, probabilistic=True)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    mon.check(Lookup(toy_images), record())
    assert torch.equal(before, torch.get_rng_state())
    assert mon.z.shape == (PROBE_N, 8)


def _toy_run(tmp_path, name, overrides):
    from gankit.config import from_preset
    from gankit.runs.loop import train

    cfg = apply_overrides(from_preset("toy"), {"data.toy_samples": 2048, **overrides})
    lines: list[str] = []
    out = tmp_path / name
    return cfg, out, lines, lambda: train(cfg, out, log=lines.append)


def test_a_run_built_to_collapse_is_flagged_in_the_epoch_it_happens(tmp_path):
    """D ten times faster than G and G nearly frozen: D wins within the first epochs."""
    cfg, out, lines, go = _toy_run(tmp_path, "failing", {
        "train.epochs": 3, "train.lr_d": 1e-2, "train.lr_g": 1e-6})
    go()
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    flagged = [r["epoch"] for r in records if "d_wins" in r["alarms"]]
    assert flagged, records
    first = flagged[0]
    assert records[first - 1]["d_fake"] < D_WINS_BELOW  # flagged the epoch D won
    assert all(r["d_fake"] >= D_WINS_BELOW for r in records[: first - 1])
    assert any(line.startswith(f"epoch {first}: D is winning") for line in lines)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Health: alarms" in page and "D is winning" in page


def test_on_collapse_stop_checkpoints_and_exits_3(tmp_path):
    from gankit.errors import TrainingStopped
    from gankit.runs.checkpoint import list_checkpoints

    cfg, out, lines, go = _toy_run(tmp_path, "stop", {
        "train.epochs": 6, "train.lr_d": 1e-2, "train.lr_g": 1e-6,
        "train.on_collapse": "stop"})
    with pytest.raises(TrainingStopped) as err:
        go()
    assert err.value.exit_code == 3
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    stopped_at = records[-1]["epoch"]
    assert records[-1]["alarms"] and stopped_at < 6
    assert [p.name for p in list_checkpoints(out)][-1] == f"epoch_{stopped_at:04d}.pt"
    assert "--resume" in str(err.value) and "\n" not in str(err.value)


def test_a_healthy_toy_run_raises_no_alarm(tmp_path):
    cfg, out, lines, go = _toy_run(tmp_path, "healthy", {"train.epochs": 4})
    go()
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["alarms"] for r in records] == [[]] * 4
    assert not any("D is winning" in line or "collapse" in line for line in lines)
    assert "No alarm" in (out / "report.html").read_text(encoding="utf-8")


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of images (N, 1, H, W) in [-1, 1] (separable, zero-padded in [0, 2])."""
    r = int(3 * sigma)
    t = torch.arange(-r, r + 1.0)
    k = torch.exp(-t**2 / (2 * sigma**2))
    k = k / k.sum()
    y = torch.nn.functional.conv2d(x + 1, k.view(1, 1, 1, -1), padding=(0, r))
    return torch.nn.functional.conv2d(y, k.view(1, 1, -1, 1), padding=(r, 0)) - 1


def _ghosts(digits: torch.Tensor, strength: float) -> torch.Tensor:
    """A first epoch's samples: the data's mean image with faint blurred digits over it
    (`strength` of a blurred digit; 0 = the mean image for every z)."""
    mean = (digits + 1).mean(0, keepdim=True)
    return mean * (1 - strength) + (_blur(digits, 2.0) + 1) * strength - 1


def test_a_first_epochs_blurs_are_not_mode_collapse(digits):
    """`gankit train --preset seed` raised "mode collapse ... diversity is 0.14" after epoch 1
    (and mnist-quick with lr_d 1e-4, seed 3, 0.09): the classifier's features squeeze every
    non-digit together, so blurs look alike to it. Faint blurred digits over the mean image
    (the look of those grids) read as no digit and must raise nothing."""
    mon = HealthMonitor(image_cfg(), digits, probabilistic=True)
    rec = record(1)
    assert mon.check(Lookup(_ghosts(digits, 0.3)), rec) == []
    assert rec["probe_digits"] < 0.5  # nothing read as a digit yet: the digit checks wait
    # ... while the same look with (nearly) no variety is the collapse it is
    one = record(2)
    mon.check(Lookup(_ghosts(digits, 0.01)), one)
    assert "mode_collapse" in one["alarms"]
    assert one["probe_diversity"] < FLOOR_SHARE * mon.pixel_floor


def _zeros() -> torch.Tensor:
    """300 rendered zeros (the class the classifier is surest of) in [-1, 1]."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))
    from digits import render_digits

    images, _ = render_digits(300, seed=3, digits=(0,))
    return torch.from_numpy(images).float().div(127.5).sub(1.0).unsqueeze(1)


def test_the_pixel_floor_is_calibrated_on_the_datas_least_varied_class(digits):
    """The floor is the least varied class's diversity as a share of the whole data's: below
    1 for ten classes, about 1 for data of one class (the class is nearly all the data: the
    images the classifier is sure of)."""
    assert 0 < HealthMonitor(image_cfg(), digits, probabilistic=True).pixel_floor < 0.95
    assert HealthMonitor(image_cfg("idx"), _zeros(), probabilistic=True).pixel_floor == \
        pytest.approx(1.0, abs=0.05)


def test_losing_half_the_variety_is_collapse(digits):
    mon = HealthMonitor(image_cfg("idx"), _ghosts(digits, 0.6), probabilistic=True)
    assert mon.check(Lookup(_ghosts(digits, 0.6)), record(1)) == []
    later = record(2)
    mon.check(Lookup(_ghosts(digits, 0.2)), later)  # a third of the variety left
    assert later["alarms"] == ["mode_collapse"]


def test_a_dead_run_is_named_dead_with_the_games_observation(digits):
    cfg = apply_overrides(image_cfg(), {"loss.game": "maximum-likelihood"})
    mon = HealthMonitor(cfg, digits, probabilistic=True)
    mon.check(Lookup(digits), record(1))
    rec = record(2, d_fake=0.001)
    alarms = {a.kind: a.message for a in mon.check(Const(digits[0]), rec)}
    assert set(rec["alarms"]) == {"d_wins", "mode_collapse", "dead"}
    dead = alarms["dead"]
    assert dead.startswith("epoch 2: this run is dead") and "\n" not in dead
    assert "resuming" in dead and "sampling" in dead and "gives nothing" in dead
    assert "observations (a) and (b)" in dead and "hardest of the three games" in dead
    assert "--game non-saturating" in dead
    assert "observations (a) and (b)" in alarms["d_wins"]


def test_minimax_d_winning_two_epochs_running_is_dead(digits):
    cfg = apply_overrides(image_cfg(), {"loss.game": "minimax"})
    mon = HealthMonitor(cfg, digits, probabilistic=True)
    first = record(1, d_fake=0.01)
    mon.check(Lookup(digits), first)
    assert first["alarms"] == ["d_wins"]  # once may pass
    second = record(2, d_fake=0.01)
    alarms = mon.check(Lookup(digits, shift=0.05), second)
    assert second["alarms"] == ["d_wins", "dead"]
    assert "observation (a)" in alarms[-1].message
    # the non-saturating game keeps its gradient: D winning alone is not death
    ns = HealthMonitor(image_cfg(), digits, probabilistic=True)
    ns.check(Lookup(digits), record(1, d_fake=0.01))
    again = record(2, d_fake=0.01)
    ns.check(Lookup(digits, shift=0.05), again)
    assert again["alarms"] == ["d_wins"]


def test_one_class_data_is_named_at_epoch_1_and_its_g_is_not_collapse():
    zeros = _zeros()
    mon = HealthMonitor(image_cfg("idx"), zeros, probabilistic=True)
    first = record(1)
    alarms = mon.check(Lookup(zeros), first)
    assert first["alarms"] == ["narrow_data"]
    assert "reads as 1 of 10 digits" in alarms[0].message
    second = record(2)
    assert mon.check(Lookup(zeros, shift=0.01), second) == []  # said once


@pytest.mark.slow
def test_the_seed_presets_first_epoch_raises_no_alarm(tmp_path):
    """The notes' own run (`gankit train --preset seed`) after its first epoch: blurs, read
    by the classifier as no digit, and no alarm (it said "mode collapse ... 0.14")."""
    from gankit.config import from_preset
    from gankit.runs.loop import train

    cfg = apply_overrides(from_preset("seed"), {"train.epochs": 1, "train.progress": False,
                                                "train.threads": 1})
    lines: list[str] = []
    train(cfg, tmp_path / "seed", log=lines.append)
    first = json.loads((tmp_path / "seed" / "metrics.jsonl").read_text().splitlines()[0])
    assert first["alarms"] == [] and first["probe_diversity"] > 0.1
    assert not any("collapse" in line for line in lines)


def test_a_run_that_dies_says_so_last(tmp_path):
    """The minimax game with D far faster than G: D wins, G's cost is flat; the run's last
    line says it is dead, not worth resuming or sampling."""
    cfg, out, lines, go = _toy_run(tmp_path, "dies", {
        "loss.game": "minimax", "train.epochs": 3, "train.lr_d": 1e-2, "train.lr_g": 1e-6})
    go()
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("dead" in r["alarms"] for r in records), records
    assert any("this run is dead" in line and "observation (a)" in line for line in lines)
    assert lines[-1].startswith("the run ended dead") and "do not resume or sample" in lines[-1]
