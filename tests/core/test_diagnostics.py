"""Training diagnostics: JS_hat, mean |dJ/dl|, D means, gradient norms."""

from __future__ import annotations

import math

import pytest
import torch
from pytest import approx
from torch import nn

from gankit.core.diagnostics import (
    d_means,
    grad_norm,
    js_hat,
    js_hat_from_logits,
    mean_abs_dj_dlogit,
)
from gankit.core.losses import get_game


def test_js_hat_is_zero_at_chance_and_log2_at_a_perfect_d():
    assert float(js_hat(math.log(4.0))) == pytest.approx(0.0)
    assert float(js_hat(0.0)) == pytest.approx(math.log(2.0))
    assert float(js_hat_from_logits(torch.zeros(4), torch.zeros(4))) == pytest.approx(0.0, abs=1e-7)
    assert float(js_hat_from_logits(torch.full((4,), 50.0), torch.full((4,), -50.0))) == approx(
        math.log(2.0), abs=1e-6)


def test_mean_abs_dj_dlogit_per_game():
    d = torch.tensor([0.01, 0.99])
    logits = torch.log(d) - torch.log1p(-d)
    assert float(mean_abs_dj_dlogit(get_game("minimax"), logits)) == pytest.approx(0.5, rel=1e-4)
    assert float(mean_abs_dj_dlogit(get_game("non-saturating"), logits)) == approx(0.5, rel=1e-4)
    assert float(mean_abs_dj_dlogit(get_game("maximum-likelihood"), logits)) == pytest.approx(
        (0.01 / 0.99 + 99.0) / 2, rel=1e-4)


def test_d_means():
    real, fake = torch.tensor([0.0, 100.0]), torch.tensor([-100.0, 0.0])
    assert [float(v) for v in d_means(real, fake)] == approx([0.75, 0.25])


def test_grad_norm_is_the_l2_norm_of_all_gradients():
    net = nn.Linear(3, 2)
    assert float(grad_norm(net.parameters())) == 0.0
    net.weight.grad = torch.full((2, 3), 1.0)
    net.bias.grad = torch.tensor([3.0, 4.0])
    assert float(grad_norm(net.parameters())) == approx(math.sqrt(6 + 25))


def test_batched_diagnostics_are_one_per_run():
    """batch_dim=1: a leading axis holds S runs; each statistic is that run's own."""
    game = get_game("non-saturating")
    real, fake = torch.randn(3, 8), torch.randn(3, 8)
    means = d_means(real, fake, batch_dim=1)
    for k in range(3):
        one = d_means(real[k], fake[k])
        assert torch.allclose(means[0][k], one[0]) and torch.allclose(means[1][k], one[1])
        assert torch.allclose(mean_abs_dj_dlogit(game, fake, 1)[k],
                              mean_abs_dj_dlogit(game, fake[k]))
    w = torch.zeros(3, 2, 4, requires_grad=True)  # 3 runs' (2, 4) weights
    w.grad = torch.arange(24.0).view(3, 2, 4)
    norms = grad_norm([w], batch_dim=1)
    assert norms.shape == (3,)
    assert torch.allclose(norms, torch.stack([w.grad[k].norm() for k in range(3)]))


def test_trainer_logs_the_diagnostics_of_its_batches():
    """The trainer's per-step stats are these functions applied to its logits."""
    from gankit.config import build_config
    from gankit.core.trainer import Trainer
    from gankit.data.toy import make_toy

    cfg = build_config("toy", overrides={"data.toy_samples": 128, "train.batch_size": 64,
                                         "loss.real_label": 0.9})
    tr = Trainer(cfg, make_toy("ring2d", 128), "cpu")
    torch.manual_seed(5)
    stats = tr.d_step(tr.data[:64])
    assert 0.0 < float(stats["d_real"]) < 1.0 and 0.0 < float(stats["d_fake"]) < 1.0
    # JS_hat uses the unsmoothed cost even when D trains with label smoothing 0.9
    assert float(stats["js_hat"]) != pytest.approx((math.log(4) - float(stats["loss_d"])) / 2)
    g_stats = tr.g_step(64)
    assert float(g_stats["g_grad_norm"]) > 0.0
    assert 0.0 < float(g_stats["dj_dl"]) < 1.0  # non-saturating: |dJ/dl| = 1 - D


@pytest.mark.parametrize(("game", "probabilistic"), [
    ("non-saturating", True), ("minimax", True), ("maximum-likelihood", True),
    ("least-squares", False), ("wgan-gp", False), ("hinge", False),
])
def test_d_outputs_are_probabilities_only_for_the_bce_games(game, probabilistic):
    """BCE games log mean sigmoid(D) and JS_hat; score games the mean raw score, no JS_hat."""
    import copy

    from gankit.config import build_config
    from gankit.core.trainer import Trainer

    cfg = build_config("smoke", None, {"loss.game": game, "model.dropout": 0.0,
                                       "train.batch_size": 16, "train.device": "cpu",
                                       "train.precision": "fp32"})
    data = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    t = Trainer(cfg, data)
    assert get_game(game).probabilistic is probabilistic
    real = data[:16]
    with torch.no_grad():
        logits = copy.deepcopy(t.d)(real)
    stats = t.d_step(real)
    expected = torch.sigmoid(logits).mean() if probabilistic else logits.mean()
    assert float(stats["d_real"]) == approx(float(expected), rel=1e-5, abs=1e-6)
    assert ("js_hat" in stats) is probabilistic
    record = t.train_epoch()
    assert ("js_hat" in record) is probabilistic
    assert (record.get("d_output") == "score") is not probabilistic
    if probabilistic:
        assert 0.0 < record["d_real"] < 1.0
