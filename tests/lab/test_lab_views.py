"""The lab's views (gankit.lab.views) against closed forms: the arrows are -dJ/dx of each
game's cost, the cost curves are the review's figure, the grids are where the page draws."""

from __future__ import annotations

import base64

import numpy as np
import torch

from gankit.core.losses import get_game
from gankit.lab import views


def arr(b64: str, width: int = 1) -> np.ndarray:
    a = np.frombuffer(base64.b64decode(b64), dtype="<f4")
    return a.reshape(-1, width) if width > 1 else a


def test_arrows_are_each_games_descent_direction() -> None:
    """A linear D, l(x) = w.x + b: dl/dx = w, so -dJ/dx = -J'(l) w with the games' closed
    forms: minimax D w, non-saturating (1 - D) w, maximum likelihood exp(l) w."""
    w, b = torch.tensor([0.7, -0.4]), 0.1
    fakes = torch.tensor([[0.5, 1.0], [-1.0, 2.0], [2.0, -0.5]])

    def g_fn(z: torch.Tensor) -> torch.Tensor:  # 3 panels, every latent -> the fakes
        return fakes[torch.arange(z.shape[0]) % 3].expand(3, -1, -1)

    def d_fn(x: torch.Tensor) -> torch.Tensor:
        return x @ w + b

    games = [get_game(n) for n in ("minimax", "non-saturating", "maximum-likelihood")]
    z = torch.zeros(6, 2)
    out = views.frame_views(g_fn, d_fn, games, z, z[:3], views.data_grid(-1, 1, 2))
    x = fakes[torch.arange(6) % 3]
    logit = (x @ w + b).double()
    d = torch.sigmoid(logit)
    expected = {"minimax": d, "non-saturating": 1 - d, "maximum-likelihood": torch.exp(logit)}
    for panel, game in zip(out, games, strict=True):
        arrows = arr(panel["arrows"], 2)
        want = (expected[game.name][:, None] * w.double()[None]).numpy()
        assert np.allclose(arrows, want, rtol=1e-5, atol=1e-6)
        assert np.allclose(arr(panel["dfake"]), d.numpy(), atol=1e-6)
        assert np.allclose(arr(panel["jfake"]), game.g_cost(logit).numpy(), rtol=1e-5)
        assert np.allclose(arr(panel["fake"], 2), x.numpy())
    # where D says "fake" (D < 1/2) the minimax arrows are shorter than the non-saturating
    # ones: the vanishing gradient the notes describe
    small = (d < 0.5).numpy()
    mm, ns = (np.linalg.norm(arr(p["arrows"], 2), axis=1) for p in out[:2])
    assert small.any() and (mm[small] < ns[small]).all()


def test_cost_curves_are_the_review_figure() -> None:
    c = views.cost_curve(get_game("minimax"))
    x, y = np.array(c["x"]), np.array(c["y"])
    assert c["axis"] == "prob" and np.allclose(y, np.log1p(-x), rtol=1e-4, atol=1e-6)
    c = views.cost_curve(get_game("non-saturating"))
    assert np.allclose(c["y"], -np.log(c["x"]), rtol=1e-4, atol=1e-6)
    c = views.cost_curve(get_game("maximum-likelihood"))
    x = np.array(c["x"])
    assert np.allclose(c["y"], -x / (1 - x), rtol=1e-3, atol=1e-6)
    c = views.cost_curve(get_game("least-squares"))
    assert c["axis"] == "score" and np.allclose(c["y"], 0.5 * (np.array(c["x"]) - 1) ** 2,
                                                atol=1e-6)


def test_grids() -> None:
    g = views.data_grid(-2.0, 2.0, 2)
    assert g.shape == (views.GRID ** 2, 2)
    assert g[0].tolist() == [-2.0, 2.0] and g[-1].tolist() == [2.0, -2.0]  # top left first
    z = views.latent_grid(5, 2)
    assert z.shape == (views.WARP ** 2, 5) and (z[:, 2:] == 0).all()  # the (z1, z2) slice
    assert views.latent_grid(2, 1).shape == (views.WARP_1D, 2)
    assert torch.equal(views.display_latents(3), views.display_latents(3))
