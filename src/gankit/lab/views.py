"""What one frame of the lab shows, computed from the panels' G and D.

Every view evaluates G and D on fixed inputs of their own (display latents, a grid of
latents, a grid over the data's square), never on the trainer's noise stream, so drawing a
frame changes no training draw (a lab session stays on the serial run's path).

Per panel (P panels, V = 1 or 2 data dimensions; each array float32, base64, `packed`):
- `fake`: G on SHOW fixed display latents, (SHOW, V);
- `arrows`: -dJ/dx at each fake, the direction G's step moves it (J the panel's game's cost
  per sample, D frozen, no instance noise);
- `dfake`, `jfake`: D(G(z)) (a probability; the raw score for score games) and J per fake,
  the dots on the live cost-curve figure;
- `heat`: D on a GRID x GRID grid of the data square (2-D) or GRID_1D points (1-D);
- `warp`: G on a WARP x WARP grid of latents in [-2, 2]^2 (the first two latent
  coordinates; the others 0: a 2-D slice when z_dim > 2), or on WARP_1D latents along z_1.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit.core.losses import Game

SHOW = 256
"""Fakes drawn per panel per frame."""
GRID = 40
"""Side of D's landscape grid (2-D data)."""
GRID_1D = 160
"""Points of D's curve (1-D data)."""
WARP = 13
"""Side of the grid of latents G warps (2-D latents)."""
WARP_1D = 121
"""Latents along z_1 for 1-D data."""
LATENT_SPAN = 2.0
"""The latent grid covers [-LATENT_SPAN, LATENT_SPAN] in z_1 (and z_2)."""
DISPLAY_SEED = 4242
"""Seed of the display latents (their own generator)."""
DIGITS = 4
"""Decimals sent to the page."""
BINS = 20
"""Histogram bins of D(x) and D(G(z)) over [0, 1] (the MNIST view)."""


def display_latents(z_dim: int, n: int = SHOW) -> Tensor:
    """Fixed display latents (n, Z) from their own generator."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(DISPLAY_SEED))


def latent_grid(z_dim: int, dim: int) -> Tensor:
    """The latents G warps: a WARP x WARP grid of (z_1, z_2) (rows along z_1 first), or
    WARP_1D points along z_1 for 1-D data; the other coordinates 0."""
    if dim == 1 or z_dim == 1:
        ticks = torch.linspace(-LATENT_SPAN, LATENT_SPAN, WARP_1D)
        z = torch.zeros(WARP_1D, z_dim)
        z[:, 0] = ticks
        return z
    ticks = torch.linspace(-LATENT_SPAN, LATENT_SPAN, WARP)
    a, b = torch.meshgrid(ticks, ticks, indexing="ij")
    z = torch.zeros(WARP * WARP, z_dim)
    z[:, 0], z[:, 1] = a.ravel(), b.ravel()
    return z


def data_grid(lo: float, hi: float, dim: int) -> Tensor:
    """Points where D's landscape is drawn: (GRID * GRID, 2) row by row from the top
    (y = hi) down, x from lo to hi; or (GRID_1D, 1) for 1-D data."""
    if dim == 1:
        return torch.linspace(lo, hi, GRID_1D)[:, None]
    xs = torch.linspace(lo, hi, GRID)
    ys = torch.linspace(hi, lo, GRID)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx.ravel(), gy.ravel()], dim=1)


def cost_curve(game: Game, n: int = 200) -> dict[str, Any]:
    """J per sample against D(G(z)) in (0, 1) (the review's figure; `gankit games plot`), or
    against D's score in [-2, 3] for the games whose D outputs a score."""
    if game.probabilistic:
        x = torch.linspace(0.0005, 0.9995, n, dtype=torch.float64)
        y = game.g_cost(torch.log(x) - torch.log1p(-x))
        axis = "prob"
    else:
        x = torch.linspace(-2.0, 3.0, n, dtype=torch.float64)
        y = game.g_cost(x)
        axis = "score"
    return {"game": game.name, "axis": axis, "x": _r(x, 7), "y": _r(y, 7)}


def packed(t: Tensor) -> str:
    """A tensor as base64 of its float32 values (little-endian, row-major): a frame's arrays
    travel as these (the page reads them as a Float32Array), ten times cheaper than JSON
    numbers."""
    a = np.ascontiguousarray(t.detach().cpu().numpy(), dtype="<f4")
    return base64.b64encode(a.tobytes()).decode("ascii")


def _r(t: Tensor | np.ndarray, digits: int = DIGITS) -> list:
    a = t.detach().cpu().numpy() if isinstance(t, Tensor) else t
    return np.round(a.astype(np.float64), digits).tolist()


def frame_views(
    g_fn: Callable[[Tensor], Tensor], d_fn: Callable[[Tensor], Tensor],
    games: Sequence[Game], z_show: Tensor, z_warp: Tensor, grid: Tensor,
) -> list[dict[str, Any]]:
    """The views of every panel (see the module doc).

    `g_fn`: latents (n, Z) -> every panel's samples (P, n, V); `d_fn`: samples (P, n, V) ->
    D's logits or scores (P, n), differentiable in the samples.
    """
    p, n_warp = len(games), z_warp.shape[0]
    with torch.no_grad():
        both = g_fn(torch.cat([z_warp, z_show]))  # one G pass: (P, W + n, V)
        heat = d_fn(grid.expand(p, -1, -1))  # (P, M)
    warp, fake = both[:, :n_warp], both[:, n_warp:]
    x = fake.clone().requires_grad_(True)
    logits = d_fn(x)  # (P, n)
    costs = torch.stack([game.g_cost(logits[k]) for k, game in enumerate(games)])  # (P, n)
    (grad,) = torch.autograd.grad(costs.sum(), x)  # (P, n, V); only x, no weight grads
    out = []
    for k, game in enumerate(games):
        lk = logits[k].detach()
        out.append({
            "fake": packed(fake[k]), "arrows": packed(-grad[k]), "warp": packed(warp[k]),
            "heat": packed(torch.sigmoid(heat[k]) if game.probabilistic else heat[k]),
            "dfake": packed(torch.sigmoid(lk) if game.probabilistic else lk),
            "jfake": packed(costs[k].detach()),
        })
    return out


def mnist_views(trainer: Any, real: Tensor, z_show: Tensor) -> dict[str, Any]:
    """The MNIST view of a serial trainer: its 10 x 10 grid of the fixed latents (uint8, base64,
    (100, H, W) row-major), histograms (BINS over [0, 1], fractions) of D(x) on a fixed batch
    of real images and of D(G(z)) on the display latents, and J per fake for the cost figure.
    G and D run in eval mode (no dropout draw: the global RNG stays the run's)."""
    game = trainer.game
    grid = trainer.sample()  # (100, C, H, W) in [-1, 1]
    pixels = ((grid.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)[:, 0]
    d, g = trainer.d, trainer.g
    was = d.training, g.training
    d.eval()
    g.eval()
    try:
        with torch.no_grad():
            real_scores = d(real).reshape(-1).float()
            fake_scores = d(g(z_show)).reshape(-1).float()
    finally:
        d.train(was[0])
        g.train(was[1])

    def shown(scores: Tensor) -> Tensor:
        return torch.sigmoid(scores) if game.probabilistic else scores

    def hist(values: Tensor) -> Tensor:
        lo, hi = (0.0, 1.0) if game.probabilistic else (float(values.min()), float(values.max()))
        return torch.histc(values, BINS, lo, hi if hi > lo else lo + 1) / values.numel()

    dreal, dfake = shown(real_scores), shown(fake_scores)
    return {"grid": base64.b64encode(pixels.numpy().tobytes()).decode("ascii"),
            "hist_real": _r(hist(dreal)), "hist_fake": _r(hist(dfake)),
            "dfake": packed(dfake), "jfake": packed(game.g_cost(fake_scores))}
