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


def test_iterations_deal_the_batches_and_the_n_critic_rule_across_epochs():
    """`iterations` is the epoch's bookkeeping that run_epoch steps through: consecutive
    batches of the permutation, and G after every n_critic-th iteration of the run (the count
    carries over epochs), read when an item is drawn."""
    cfg = build_config("toy", overrides={"train.batch_size": 100, "train.n_critic": 3,
                                         "data.toy_samples": 500, "train.threads": 1})
    t = Trainer(cfg, make_toy("ring2d", 500), "cpu")
    perm = torch.arange(500).flip(0)
    plan = list(t.iterations(perm))  # the counter does not move: every draw sees iteration 0
    assert [i.tolist() for i, _ in plan] == [perm[k * 100:(k + 1) * 100].tolist()
                                              for k in range(5)]
    flags = []
    for _ in range(2):  # two epochs of 5, counted as run_epoch counts
        for _, with_g in t.iterations(perm):
            flags.append(with_g)
            t.iteration += 1
    assert flags == [(k + 1) % 3 == 0 for k in range(10)]
    # run_epoch is those iterations, stepped: its G steps are the rule's
    t.iteration = t.g_steps = 0
    _, g_done = t.run_epoch(perm)
    assert (t.iteration, g_done, t.g_steps) == (5, 1, 1)
    stacked = torch.stack([perm, perm.flip(0)])  # (runs, N): the lab's panels
    first, _ = next(t.iterations(stacked))
    assert first.shape == (2, 100) and torch.equal(first[1], torch.arange(100))
