"""Toy distributions (the notes' Example 1): a 1-D Gaussian and two 2-D Gaussian mixtures.

Each is an equal-weight mixture of isotropic Gaussians that knows its mode centres and
std, so the toy metrics (gankit.metrics.toy) can score samples against it exactly.

- `gaussian1d`: N(4, 0.5^2), the target of John Glover's AYLIEN introduction to GANs (2016).
  It is not the toy of the "GAN in 50 lines of code" post the notes cite (Dev Nag, 2017): that
  post uses N(4, 1.25^2), uniform 1-D noise and a D that is fed statistics of the whole
  minibatch.
- `ring2d`: 8 Gaussians evenly spaced on a circle of radius 2, std 0.02, the mode-collapse
  benchmark of Unrolled GAN (Metz et al. 2016) and VEEGAN (Srivastava et al. 2017).
- `grid2d`: 25 Gaussians on a 5 x 5 grid with centres at {-4, -2, 0, 2, 4}^2, std 0.05,
  the grid benchmark of VEEGAN and PacGAN.

Each is registered by name in gankit.datasets. Sampling takes a `torch.Generator`, so a seed
fixes the data set; nothing is cached on disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from gankit import datasets
from gankit.errors import DataError


@dataclass(frozen=True)
class ToyDistribution:
    """An equal-weight mixture of isotropic Gaussians N(centre_k, std^2 I)."""

    name: str
    centres: Tensor
    """Mode centres, (M, dim), float32."""
    std: float
    """Standard deviation of every mode, in each coordinate."""
    summary: str

    @property
    def dim(self) -> int:
        """Dimension of a sample."""
        return int(self.centres.shape[1])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (dim,)."""
        return (self.dim,)

    @property
    def num_modes(self) -> int:
        """Number of mixture components."""
        return int(self.centres.shape[0])

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples, (n, dim) float32: a uniformly chosen mode plus Gaussian noise."""
        assert n >= 0
        idx = torch.randint(self.num_modes, (n,), generator=generator)  # (n,)
        noise = torch.randn(n, self.dim, generator=generator)  # (n, dim)
        return self.centres[idx] + self.std * noise

    def log_density(self, x: Tensor) -> Tensor:
        """log p(x) of the mixture at points x (n, dim) -> (n,), in float64."""
        x = x.to(torch.float64).reshape(-1, self.dim)
        c = self.centres.to(torch.float64)
        sq = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)  # (n, M)
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * self.std**2)
        return torch.logsumexp(-0.5 * sq / self.std**2, dim=1) + log_norm - math.log(self.num_modes)

    def extent(self, margin: float = 1.0) -> tuple[float, float]:
        """A square (or interval) that holds the data: centres' range +- max(margin, 4 std)."""
        pad = max(margin, 4 * self.std)
        return float(self.centres.min()) - pad, float(self.centres.max()) + pad


def gaussian1d() -> ToyDistribution:
    return ToyDistribution(
        "gaussian1d", torch.tensor([[4.0]]), 0.5,
        "1-D Gaussian N(4, 0.5^2) (the AYLIEN tutorial's target)",
    )


def ring2d(modes: int = 8, radius: float = 2.0, std: float = 0.02) -> ToyDistribution:
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    centres = torch.stack([radius * angles.cos(), radius * angles.sin()], dim=1).float()
    return ToyDistribution(
        "ring2d", centres, std, f"{modes} Gaussians on a circle of radius {radius:g}, std {std:g}"
    )


def grid2d(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> ToyDistribution:
    ticks = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(ticks, ticks, indexing="ij")
    centres = torch.stack([gx.ravel(), gy.ravel()], dim=1)
    return ToyDistribution(
        "grid2d", centres, std, f"{side * side} Gaussians on a {side}x{side} grid spaced "
        f"{spacing:g}, std {std:g}"
    )


def get_toy(name: str) -> ToyDistribution:
    """The toy distribution called `name` (a toy set of gankit.datasets); an unknown name
    raises a one-line DataError."""
    if not datasets.is_toy(name):
        raise DataError(f"unknown toy data set {name!r}; choose one of: "
                        f"{', '.join(datasets.names('toy'))}")
    return datasets.get(name).distribution()


def make_toy(name: str, n: int, seed: int = 0) -> Tensor:
    """A fixed training set of n samples of the toy distribution `name`, (n, dim)."""
    if n < 1:
        raise DataError(f"toy data set size must be at least 1, got {n}; pass a positive size")
    generator = torch.Generator().manual_seed(seed)
    return get_toy(name).sample(n, generator)
