"""How a trainer draws samples: from G, or from the EMA of G with its BatchNorm statistics
recomputed for the averaged weights; the fixed latents of the sample grids.

The recalibration uses EMA_CALIBRATION_BATCHES batches of fresh noise from a generator
seeded by (seed, EMA updates), so the run's random streams and exact resume are untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from gankit import seeds
from gankit.core.models import class_grid_labels

if TYPE_CHECKING:
    from gankit.config import Config
    from gankit.core.ema import EMA

EMA_CALIBRATION_BATCHES = 32
"""Batches (of train.batch_size latents) that recompute the EMA G's BatchNorm statistics."""


class Sampling:
    """The sampling half of gankit.core.trainer.Trainer (a mixin: it reads the trainer's G,
    EMA, config, class count, device and fixed latents)."""

    cfg: Config
    device: torch.device
    g: nn.Module
    ema: EMA | None
    n_classes: int
    fixed_z: Tensor
    _ema_calibrated_at: int | None

    @property
    def sampler(self) -> nn.Module:
        """The G that draws samples: the EMA copy (BatchNorm recalibrated) when EMA is on."""
        if self.ema is None:
            return self.g
        if self._ema_calibrated_at != self.ema.updates:  # once per EMA state
            self.ema.recalibrate_batchnorm(self._calibration_batches())
            self._ema_calibrated_at = self.ema.updates
        return self.ema.model

    def _calibration_batches(self) -> Iterator[tuple[Tensor, ...]]:
        """Inputs that recompute the EMA G's BatchNorm statistics: fresh noise from a
        generator seeded by (seed, EMA updates), deterministic and apart from the run's."""
        assert self.ema is not None
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seeds.ema_calibration_seed(self.cfg.train.seed, self.ema.updates))
        b, zdim = self.cfg.train.batch_size, self.cfg.model.z_dim
        for _ in range(EMA_CALIBRATION_BATCHES):
            z = torch.randn(b, zdim, generator=gen, device=self.device)
            if not self.n_classes:
                yield (z,)
            else:
                yield z, torch.randint(0, self.n_classes, (b,), generator=gen, device=self.device)

    def fixed_grid(self) -> tuple[Tensor, Tensor | None]:
        """(z, labels) of the sample grid: the 100 fixed latents; conditional: one row per
        class, K x 10, column j using the same latent fixed_z[j] in every row."""
        if not self.n_classes:
            return self.fixed_z, None
        labels = class_grid_labels(self.n_classes, 10)
        return self.fixed_z[:10].repeat(self.n_classes, 1), labels

    @torch.no_grad()
    def sample(self, z: Tensor | None = None, labels: Tensor | None = None) -> Tensor:
        """Images from G (EMA when on) in eval mode; the fixed grid by default. (B, C, H, W).
        A conditional G without labels draws the classes 0..K-1 in turn."""
        if z is None:
            z, labels = self.fixed_grid()
        g = self.sampler
        was = g.training
        g.eval()
        labels = labels.to(self.device) if labels is not None and self.n_classes else None
        out = g(z.to(self.device), labels).float().cpu()
        g.train(was)
        return out
