"""Training diagnostics: JS_hat, mean |dJ/dl|, D means, gradient norms."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit.diagnostics import d_means, grad_norm, js_hat, js_hat_from_logits, mean_abs_dj_dlogit
from gankit.losses import get_game


def test_js_hat_is_zero_at_chance_and_log2_at_a_perfect_d():
    assert js_hat(math.log(4.0)) == pytest.approx(0.0)
    assert js_hat(0.0) == pytest.approx(math.log(2.0))
    assert js_hat_from_logits(torch.zeros(4), torch.zeros(4)) == pytest.approx(0.0, abs=1e-7)
    assert js_hat_from_logits(torch.full((4,), 50.0), torch.full((4,), -50.0)) == pytest.approx(
        math.log(2.0), abs=1e-6)


def test_mean_abs_dj_dlogit_per_game():
    d = torch.tensor([0.01, 0.99])
    logits = torch.log(d) - torch.log1p(-d)
    assert mean_abs_dj_dlogit(get_game("minimax"), logits) == pytest.approx(0.5, rel=1e-4)
    assert mean_abs_dj_dlogit(get_game("non-saturating"), logits) == pytest.approx(0.5, rel=1e-4)
    assert mean_abs_dj_dlogit(get_game("maximum-likelihood"), logits) == pytest.approx(
        (0.01 / 0.99 + 99.0) / 2, rel=1e-4)


def test_d_means():
    real, fake = torch.tensor([0.0, 100.0]), torch.tensor([-100.0, 0.0])
    assert d_means(real, fake) == pytest.approx((0.75, 0.25))


def test_grad_norm_is_the_l2_norm_of_all_gradients():
    net = nn.Linear(3, 2)
    assert grad_norm(net) == 0.0
    net.weight.grad = torch.full((2, 3), 1.0)
    net.bias.grad = torch.tensor([3.0, 4.0])
    assert grad_norm(net) == pytest.approx(math.sqrt(6 + 25))
