"""The theory of docs/theory.md (sections 1-4) checked exactly on discrete distributions (float64).

p_data and p_g live on K points; the optimal discriminator's logit is
l*(x) = log p_data(x) - log p_g(x), so D* = sigmoid(l*). The generator costs come from
gankit.core.losses, so these tests fail if a loss is wrong as well as if an identity is.
"""

from __future__ import annotations

import math

import pytest
import torch

from gankit.core.diagnostics import js_hat
from gankit.core.losses import d_loss_bce, get_game

K = 12
LOG2 = math.log(2.0)


def _pair(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(K, generator=g, dtype=torch.float64) + 0.05
    q = torch.rand(K, generator=g, dtype=torch.float64) ** 3 + 0.01
    return p / p.sum(), q / q.sum()


def kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """(3) KL(p || q) = sum p log(p / q)."""
    return (p * (p / q).log()).sum()


def js(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """(4) JS(p || q) = KL(p || m) / 2 + KL(q || m) / 2, m = (p + q) / 2."""
    m = (p + q) / 2
    return kl(p, m) / 2 + kl(q, m) / 2


def value(p_data: torch.Tensor, p_g: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """(1) V(D, G) = E_data log D + E_g log(1 - D)."""
    return (p_data * d.log()).sum() + (p_g * (1 - d).log()).sum()


def optimal_logit(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """log D* - log(1 - D*) = log p_data - log p_g, from (2)."""
    return p_data.log() - p_g.log()


SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_optimal_discriminator_maximises_value(seed):
    p_data, p_g = _pair(seed)
    d_star = p_data / (p_data + p_g)  # (2)
    torch.testing.assert_close(d_star, torch.sigmoid(optimal_logit(p_data, p_g)))
    best = value(p_data, p_g, d_star)
    g = torch.Generator().manual_seed(100 + seed)
    for _ in range(200):
        logit = optimal_logit(p_data, p_g) + 0.3 * torch.randn(K, generator=g, dtype=torch.float64)
        assert value(p_data, p_g, torch.sigmoid(logit)) < best
    d = d_star.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(value(p_data, p_g, d), d)
    assert grad.abs().max().item() < 1e-12  # stationary point, pointwise


@pytest.mark.parametrize("seed", SEEDS)
def test_max_value_is_two_js_minus_two_log_two(seed):
    p_data, p_g = _pair(seed)
    l_star = optimal_logit(p_data, p_g)
    # V(D*, G) with the minimax cost of gankit.core.losses for the fake term: E_g log(1 - D*)
    minimax = get_game("minimax").g_cost
    v = (p_data * torch.sigmoid(l_star).log()).sum() + (p_g * minimax(l_star)).sum()
    assert v.item() == pytest.approx((2 * js(p_data, p_g) - 2 * LOG2).item(), abs=1e-12)
    # and at p_g = p_data the minimum -log 4
    l_eq = optimal_logit(p_data, p_data)
    v_eq = (p_data * torch.sigmoid(l_eq).log()).sum() + (p_data * minimax(l_eq)).sum()
    assert v_eq.item() == pytest.approx(-math.log(4.0), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_d_cost_at_optimum_gives_js_hat_equal_to_js(seed):
    """L_D = -V, so at D* JS_hat = (log 4 - L_D) / 2 = JS, exactly (expectations as weights)."""
    p_data, p_g = _pair(seed)
    l_star = optimal_logit(p_data, p_g)
    l_d = (p_data * torch.nn.functional.softplus(-l_star)).sum() + \
        (p_g * torch.nn.functional.softplus(l_star)).sum()
    assert float(js_hat(l_d)) == pytest.approx(js(p_data, p_g).item(), abs=1e-12)
    same = d_loss_bce(torch.zeros(3), torch.zeros(3))  # D = 1/2 everywhere
    assert float(js_hat(same)) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("seed", SEEDS)
def test_identity_kl_from_the_two_costs(seed):
    """(12) E_g[-log D*] + E_g[log(1 - D*)] = KL(p_g || p_data) (the review's (8))."""
    p_data, p_g = _pair(seed)
    l_star = optimal_logit(p_data, p_g)
    ns = (p_g * get_game("non-saturating").g_cost(l_star)).sum()
    mm = (p_g * get_game("minimax").g_cost(l_star)).sum()
    assert (ns + mm).item() == pytest.approx(kl(p_g, p_data).item(), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_identity_non_saturating_cost(seed):
    """(14) E_g[-log D*] = KL(p_g || p_data) - 2 JS + E_data[log D*] + 2 log 2 (review (12))."""
    p_data, p_g = _pair(seed)
    l_star = optimal_logit(p_data, p_g)
    lhs = (p_g * get_game("non-saturating").g_cost(l_star)).sum()
    e_data_log_d = (p_data * torch.sigmoid(l_star).log()).sum()
    rhs = kl(p_g, p_data) - 2 * js(p_data, p_g) + e_data_log_d + 2 * LOG2
    assert lhs.item() == pytest.approx(rhs.item(), abs=1e-12)


def _frozen_d_gradient(game_name: str, p_data: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """d/dtheta E_{p_g}[J(l*)], with p_g = softmax(theta) and l* of D* held fixed (D frozen)."""
    theta = theta.clone().requires_grad_(True)
    p_g = torch.softmax(theta, 0)
    l_star = optimal_logit(p_data, p_g).detach()
    cost = (p_g * get_game(game_name).g_cost(l_star)).sum()
    (grad,) = torch.autograd.grad(cost, theta)
    return grad


def _divergence_gradient(fn, p_data: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    theta = theta.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(p_data, torch.softmax(theta, 0)), theta)
    return grad


DIVERGENCE_OF_GAME = {
    # the maximum-likelihood game: KL(p_data || p_g) (importance weight exp(l*) = p_data / p_g)
    "maximum-likelihood": lambda p, q: kl(p, q),
    # the original game: 2 JS(p_data || p_g) (envelope theorem on (5))
    "minimax": lambda p, q: 2 * js(p, q),
    # the non-saturating game: KL(p_g || p_data) - 2 JS, the contradictory pair of (14)
    "non-saturating": lambda p, q: kl(q, p) - 2 * js(p, q),
}


@pytest.mark.parametrize("game_name", list(DIVERGENCE_OF_GAME))
@pytest.mark.parametrize("seed", SEEDS)
def test_expected_gradient_of_each_game_at_optimal_d(game_name, seed):
    p_data, _ = _pair(seed)
    theta = torch.randn(K, generator=torch.Generator().manual_seed(7 + seed), dtype=torch.float64)
    got = _frozen_d_gradient(game_name, p_data, theta)
    want = _divergence_gradient(DIVERGENCE_OF_GAME[game_name], p_data, theta)
    assert want.abs().max().item() > 1e-3  # a non-trivial gradient
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_the_games_follow_different_divergences():
    """The ML game's gradient is not that of KL(p_g || p_data) nor the others' (test has teeth)."""
    p_data, _ = _pair(3)
    theta = torch.randn(K, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    ml = _frozen_d_gradient("maximum-likelihood", p_data, theta)
    reverse_kl = _divergence_gradient(lambda p, q: kl(q, p), p_data, theta)
    assert (ml - reverse_kl).abs().max().item() > 1e-3
    for other in ("minimax", "non-saturating"):
        assert (ml - _frozen_d_gradient(other, p_data, theta)).abs().max().item() > 1e-3


def test_all_three_games_share_the_fixed_point():
    """At p_g = p_data, D* = 1/2 and every game's expected gradient vanishes."""
    p_data, _ = _pair(4)
    theta = p_data.log()
    for name in DIVERGENCE_OF_GAME:
        assert _frozen_d_gradient(name, p_data, theta).abs().max().item() < 1e-12
