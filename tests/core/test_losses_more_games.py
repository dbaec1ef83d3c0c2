"""LSGAN, WGAN-GP and hinge: hand-computed values and gradients; the gradient penalty."""

from __future__ import annotations

import pytest
import torch

from gankit.core.losses import (
    GAMES,
    WGAN_GP_LAMBDA,
    d_loss_hinge,
    d_loss_least_squares,
    d_loss_wasserstein,
    g_cost_least_squares,
    g_cost_negative_score,
    get_game,
    gradient_penalty,
    wgan_gp_penalty,
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
    assert GAMES["wgan-gp"].penalty is wgan_gp_penalty
    assert all(g.penalty is None for n, g in GAMES.items() if n != "wgan-gp")


def test_wgan_gp_penalty_is_lambda_times_the_gradient_penalty_at_drawn_weights() -> None:
    # d(x) = <w, x>: GP = (||w|| - 1)^2 = 16 whatever eps; the game's term is 10 * 16,
    # with eps drawn once, by the step's uniform().
    w = torch.tensor([3.0, 4.0])
    draws = []

    def uniform() -> torch.Tensor:
        draws.append(torch.rand(5, 1))
        return draws[-1]

    term = wgan_gp_penalty(lambda x: x @ w, torch.randn(5, 2), torch.randn(5, 2), uniform)
    assert WGAN_GP_LAMBDA == 10.0 and len(draws) == 1
    assert term.item() == pytest.approx(WGAN_GP_LAMBDA * 16.0)


def test_gradient_penalty_per_run_equals_each_runs_own() -> None:
    # batch_dim=1: S runs stacked on a leading axis, one penalty each
    w = torch.tensor([[3.0, 4.0], [0.6, 0.8], [1.0, 0.0]])  # (S, V): norms 5, 1, 1

    def critics(x: torch.Tensor) -> torch.Tensor:  # (S, B, V) -> (S, B)
        return (x * w[:, None, :]).sum(-1) + 0.1 * x.pow(2).sum(-1)

    real, fake, eps = torch.randn(3, 4, 2), torch.randn(3, 4, 2), torch.rand(3, 4, 1)
    per_run = gradient_penalty(critics, real, fake, eps, batch_dim=1)
    assert per_run.shape == (3,)
    for k in range(3):
        def one(x: torch.Tensor, k: int = k) -> torch.Tensor:
            return x @ w[k] + 0.1 * x.pow(2).sum(-1)
        assert per_run[k].item() == pytest.approx(
            gradient_penalty(one, real[k], fake[k], eps[k]).item(), rel=1e-6)


def test_gradient_penalty_of_a_linear_critic_in_closed_form() -> None:
    # d(x) = <w, x>: the gradient is w everywhere, so GP = (||w|| - 1)^2 and
    # dGP/dw = 2 (||w|| - 1) w / ||w||.
    w = torch.tensor([3.0, 4.0, 0.0, 0.0], requires_grad=True)

    def critic(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ w

    real, fake = torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)
    gp = gradient_penalty(critic, real, fake, torch.rand(5, 1, 1, 1))
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


def test_the_steps_interpolation_weights_are_uniform_and_per_sample() -> None:
    """The WGAN-GP weights the training step draws (the noise source's `uniform`)."""
    from gankit.runtime.noise import NoiseSource

    eps = NoiseSource(0, torch.device("cpu")).uniform(4000, 4, torch.float32)
    assert eps.shape == (4000, 1, 1, 1)  # one weight per sample, broadcast over C, H, W
    assert eps.min() >= 0.0 and eps.max() <= 1.0  # not a normal
    assert eps.mean().item() == pytest.approx(0.5, abs=0.02)
    assert eps.var().item() == pytest.approx(1 / 12, abs=0.005)
    # every decile of U[0, 1] holds about a tenth of the draws
    counts = torch.histc(eps.flatten(), bins=10, min=0.0, max=1.0)
    assert (counts / 4000 - 0.1).abs().max() < 0.025


def test_gradient_penalty_refuses_per_pixel_weights() -> None:
    real = torch.zeros(2, 1, 2, 2)
    with pytest.raises(AssertionError):
        gradient_penalty(lambda x: x.sum((1, 2, 3)), real, real, torch.rand(2, 1, 2, 2))


def test_unknown_game_lists_the_new_choices() -> None:
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="least-squares, wgan-gp, hinge"):
        get_game("wgan")
