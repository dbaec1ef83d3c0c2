"""gankit.core.step: the epoch's statistics record, and what a step changes.

(The steps' equality over a leading runs axis, batched == serial, is tests/runs/
test_batched.py's; that the steps exist once, tests/core/test_one_step.py's.)
"""

from __future__ import annotations

import math

import pytest
import torch

from gankit.config import build_config
from gankit.core.step import epoch_record, means_of
from gankit.core.trainer import Trainer
from gankit.data.toy import make_toy
from gankit.stats import G_STAT_NAMES, STAT_NAMES


def test_means_divide_g_statistics_by_g_steps_and_the_rest_by_d_steps():
    sums = torch.arange(1.0, len(STAT_NAMES) + 1).repeat(2, 1)  # two runs
    means = means_of(sums, d_steps=10, g_steps=2)
    for k, name in enumerate(STAT_NAMES):
        assert means[0, k].item() == pytest.approx((k + 1) / (2 if name in G_STAT_NAMES else 10))
    assert torch.equal(means[0], means[1])
    # an epoch without a G step (n_critic above its iterations) divides by 1, not 0
    assert torch.isfinite(means_of(sums, 10, 0)).all()


@pytest.mark.parametrize("probabilistic", [True, False])
def test_epoch_record_keys(probabilistic):
    means = [float(k) for k in range(len(STAT_NAMES))]
    rec = epoch_record(3, 30, 10, means, probabilistic, seconds=2.0, images=640, elapsed=7.0)
    assert (rec["epoch"], rec["iteration"], rec["g_steps"]) == (3, 30, 10)
    assert rec["images_per_s"] == 320.0 and rec["elapsed"] == 7.0
    assert ("js_hat" in rec) is probabilistic  # a score game has no JS estimate
    assert (rec.get("d_output") == "score") is not probabilistic
    assert math.isnan(epoch_record(1, 1, 1, means, True, 0.0, 64, 0.0)["images_per_s"])


def _trainer(game: str) -> Trainer:
    cfg = build_config("toy", None, {"data.toy_samples": 128, "train.batch_size": 32,
                                     "model.g_hidden": [8], "model.d_hidden": [8],
                                     "model.z_dim": 2, "loss.game": game})
    return Trainer(cfg, make_toy("ring2d", 128), "cpu")


@pytest.mark.parametrize("game", ["non-saturating", "wgan-gp"])
def test_d_step_changes_only_d_and_g_step_only_g(game):
    t = _trainer(game)
    g0 = [p.detach().clone() for p in t.g.parameters()]
    d0 = [p.detach().clone() for p in t.d.parameters()]
    t.d_step(t.data[:32])
    assert all(torch.equal(a, b) for a, b in zip(g0, t.g.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(d0, t.d.parameters(), strict=True))
    d1 = [p.detach().clone() for p in t.d.parameters()]
    t.opt_d.zero_grad(set_to_none=True)
    t.g_step(32)
    assert all(torch.equal(a, b) for a, b in zip(d1, t.d.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(g0, t.g.parameters(), strict=True))
    assert all(p.grad is None for p in t.d.parameters())  # G's step computes no D gradient
