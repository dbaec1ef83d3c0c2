"""What a run on a toy data set adds to each epoch: toy metrics and snapshot pictures.

Both use a fixed set of evaluation latents (`eval_latents`, its own seeded generator), so
they never touch the global RNG (exact resume is kept) and epochs are comparable. G and D
are evaluated in eval mode and put back in their previous mode.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from gankit import seeds
from gankit.data.toy import ToyDistribution
from gankit.metrics.toy import toy_metrics
from gankit.viz.plots import plot_snapshot_1d, plot_snapshot_2d

EVAL_SAMPLES = 2500
"""Generated samples scored per evaluation (2,500 as in the VEEGAN / PacGAN benchmarks)."""

EVAL_SEED = seeds.TOY_EVAL_SEED
"""Seed of the evaluation latents (gankit.seeds; the reference sample's is its own)."""


def eval_latents(z_dim: int, n: int = EVAL_SAMPLES, seed: int = EVAL_SEED) -> Tensor:
    """Fixed latents (n, Z) for toy evaluation, from their own generator."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))


def reference_sample(dist: ToyDistribution, n: int = EVAL_SAMPLES) -> Tensor:
    """A fixed sample of the data distribution to compare generated samples with, (n, V)."""
    return dist.sample(n, torch.Generator().manual_seed(seeds.toy_reference_seed()))


@contextmanager
def _eval_mode(*modules: nn.Module):  # noqa: ANN202
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, w in zip(modules, was, strict=True):
            m.train(w)


def _device_of(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def generate_toy(g: nn.Module, z: Tensor) -> Tensor:
    """G(z) in eval mode, on the CPU, float32 (n, V)."""
    with _eval_mode(g):
        return g(z.to(_device_of(g))).float().cpu()


def toy_epoch_metrics(g: nn.Module, dist: ToyDistribution, z: Tensor) -> dict[str, float]:
    """Toy metrics (modes_covered, hq_share, js_hist for 1-D) of G on the fixed latents."""
    fake = generate_toy(g, z)
    if not torch.isfinite(fake).all():
        return {"modes_covered": 0, "num_modes": dist.num_modes, "hq_share": 0.0,
                **({"js_hist": float("nan")} if dist.dim == 1 else {})}
    return toy_metrics(fake, dist, reference_sample(dist, z.shape[0]))


def discriminator_on_grid(d: nn.Module, dist: ToyDistribution, lo: float, hi: float,
                          steps: int) -> tuple[np.ndarray, ...]:
    """D(x) = sigmoid(logit) on a grid over [lo, hi]^V: (xs, D) in 1-D, (gx, gy, D) in 2-D.

    A packed D (model.pack > 1) reads `pack` samples at once; its map is its score of a pack
    of `pack` copies of x.
    """
    pack = getattr(d, "pack", 1)
    ticks = torch.linspace(lo, hi, steps)

    def score(points: Tensor) -> Tensor:  # (n, V) -> (n,) probabilities
        packed = points.to(_device_of(d)).repeat_interleave(pack, dim=0)
        return torch.sigmoid(d(packed)).float().cpu()

    with _eval_mode(d):
        if dist.dim == 1:
            return ticks.numpy(), score(ticks[:, None]).numpy()
        gx, gy = torch.meshgrid(ticks, ticks, indexing="xy")
        prob = score(torch.stack([gx.ravel(), gy.ravel()], dim=1)).reshape(steps, steps)
        return gx.numpy(), gy.numpy(), prob.numpy()


def save_toy_snapshot(g: nn.Module, d: nn.Module, dist: ToyDistribution, z: Tensor,
                      path: str | Path, title: str = "") -> Path:
    """1-D: histograms of real and generated samples with D(x); 2-D: points over D's map."""
    fake = generate_toy(g, z).numpy()
    real = reference_sample(dist, z.shape[0]).numpy()
    lo, hi = dist.extent()
    if dist.dim == 1:
        xs, prob = discriminator_on_grid(d, dist, lo, hi, 400)
        return plot_snapshot_1d(path, real, fake, xs, prob, title=title)
    gx, gy, prob = discriminator_on_grid(d, dist, lo, hi, 150)
    return plot_snapshot_2d(path, real, fake, gx, gy, prob, title=title)
