"""LSGAN, WGAN-GP and hinge: hand-computed values and gradients; the gradient penalty."""

from __future__ import annotations

import pytest
import torch

from gankit.losses import (
    GAMES,
    WGAN_GP_LAMBDA,
    d_loss_hinge,
    d_loss_least_squares,
    d_loss_wasserstein,
    g_cost_least_squares,
    g_cost_negative_score,
    get_game,
    gradient_penalty,
    interpolation_weights,
)

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def test_least_squares_values_by_hand() -> None:
    # D: 1/2 mean((2-1)^2, (-1-1)^2) + 1/2 mean(0.5^2, 3^2) = 1/2 * 2.5 + 1/2 * 4.625
    assert d_loss_least_squares(REAL, FAKE).item() == pytest.approx(1.25 + 2.3125)
    # soft real target b = 0.9: 1/2 mean(1.1^2, 1.9^2) + 2.3125
    assert d_loss_least_squares(REAL, FAKE, 0.9).item() == pytest.approx(
        0.5 * (1.21 + 3.61) / 2 + 2.3125)
    # G: 1/2 (l - 1)^2 per sample
    assert torch.allclose(g_cost_least_squares(FAKE), torch.tensor([0.125, 8.0]))


def test_wasserstein_and_hinge_values_by_hand() -> None:
    assert d_loss_wasserstein(REAL, FAKE).item() == pytest.approx(-1.25 - 0.5)
    # hinge: mean(relu(1-2), relu(1+1)) + mean(relu(1.5), relu(-2)) = 1 + 0.75
    assert d_loss_hinge(REAL, FAKE).item() == pytest.approx(1.75)
    assert torch.equal(g_cost_negative_score(FAKE), -FAKE)


@pytest.mark.parametrize("name", ["least-squares", "wgan-gp", "hinge"])
def test_dj_dlogit_matches_autograd(name: str) -> None:
    game = get_game(name)
    logits = torch.tensor([-2.0, 0.0, 0.7, 3.0], requires_grad=True)
    game.g_cost(logits).sum().backward()
    assert torch.allclose(logits.grad, game.dj_dlogit(logits.detach()))


def test_d_loss_gradients_by_hand() -> None:
    real = REAL.clone().requires_grad_(True)
    fake = FAKE.clone().requires_grad_(True)
    d_loss_least_squares(real, fake).backward()
    # d/dl 1/2 mean((l - b)^2) = (l - b) / N
    assert torch.allclose(real.grad, (REAL - 1.0) / 2)
    assert torch.allclose(fake.grad, FAKE / 2)
    real.grad = fake.grad = None
    d_loss_hinge(real, fake).backward()
    # only samples inside the margin get gradient: real 2 > 1 none, -1 -> -1/2; fake 0.5 -> 1/2
    assert torch.allclose(real.grad, torch.tensor([0.0, -0.5]))
    assert torch.allclose(fake.grad, torch.tensor([0.5, 0.0]))


def test_only_wgan_gp_has_a_penalty() -> None:
    assert GAMES["wgan-gp"].gradient_penalty == WGAN_GP_LAMBDA == 10.0
    assert all(g.gradient_penalty == 0 for n, g in GAMES.items() if n != "wgan-gp")


def test_gradient_penalty_of_a_linear_critic_in_closed_form() -> None:
    # d(x) = <w, x>: the gradient is w everywhere, so GP = (||w|| - 1)^2 and
    # dGP/dw = 2 (||w|| - 1) w / ||w||.
    w = torch.tensor([3.0, 4.0, 0.0, 0.0], requires_grad=True)

    def critic(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ w

    real, fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    gp = gradient_penalty(critic, real, fake, interpolation_weights(real))
    assert gp.item() == pytest.approx(16.0)
    gp.backward()
    assert torch.allclose(w.grad, 2 * (5.0 - 1.0) * w.detach() / 5.0)


def test_gradient_penalty_interpolates_with_one_weight_per_sample() -> None:
    # d(x) = 1/2 ||x||^2 has gradient x, so at x_hat = eps * 1 + (1 - eps) * 0 the norm is
    # eps_i * sqrt(P): GP = mean_i (eps_i sqrt(P) - 1)^2.
    def critic(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.flatten(1).pow(2).sum(1)

    real, fake = torch.ones(3, 1, 2, 2), torch.zeros(3, 1, 2, 2)
    eps = torch.tensor([0.0, 0.5, 1.0]).view(3, 1, 1, 1)
    gp = gradient_penalty(critic, real, fake, eps)
    assert gp.item() == pytest.approx(((torch.tensor([0.0, 1.0, 2.0]) - 1) ** 2).mean().item())


def test_interpolation_weights_are_uniform_and_per_sample() -> None:
    real = torch.zeros(4000, 3, 8, 8)
    eps = interpolation_weights(real, torch.Generator().manual_seed(0))
    assert eps.shape == (4000, 1, 1, 1)  # one weight per sample, broadcast over C, H, W
    assert eps.min() >= 0.0 and eps.max() <= 1.0  # not a normal
    assert eps.mean().item() == pytest.approx(0.5, abs=0.02)
    assert eps.var().item() == pytest.approx(1 / 12, abs=0.005)
    # every decile of U[0, 1] holds about a tenth of the draws
    counts = torch.histc(eps.flatten(), bins=10, min=0.0, max=1.0)
    assert (counts / 4000 - 0.1).abs().max() < 0.025
    assert interpolation_weights(torch.zeros(7, 5)).shape == (7, 1)


def test_gradient_penalty_refuses_per_pixel_weights() -> None:
    real = torch.zeros(2, 1, 2, 2)
    with pytest.raises(AssertionError):
        gradient_penalty(lambda x: x.sum((1, 2, 3)), real, real, torch.rand(2, 1, 2, 2))


def test_unknown_game_lists_the_new_choices() -> None:
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="least-squares, wgan-gp, hinge"):
        get_game("wgan")
