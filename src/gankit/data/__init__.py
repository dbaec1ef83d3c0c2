"""Training data: `load_dataset(cfg.data)` turns a data set name into one tensor.

Which data sets there are, and how each loads, is gankit.datasets' registry. Images come
back as float32 (N, C, H, W) scaled to [-1, 1] by (x - 127.5) / 127.5, exactly
as the notes do, with their labels (N,) when the data set has them. Toy sets
(gankit.data.toy) come back as float32 vectors (N, V), a fixed draw with seed 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gankit import datasets
from gankit.config import DataConfig
from gankit.data.toy import make_toy
from gankit.errors import ConfigError, DataError


@dataclass
class Dataset:
    """A whole training set held as one tensor."""

    name: str
    samples: Tensor
    """(N, *sample_shape) float32; images in [-1, 1]."""
    labels: Tensor | None = None
    """(N,) int64 class labels, when known."""

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.samples.shape[1:])

    def __len__(self) -> int:
        return int(self.samples.shape[0])


def images_to_tensor(images: np.ndarray) -> Tensor:
    """uint8 (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.ndim == 3:
        x = x.unsqueeze(-1)
    x = x.permute(0, 3, 1, 2).float()
    return ((x - 127.5) / 127.5).contiguous()


def resize_images(x: Tensor, size: int) -> Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, C, size, size), antialiased bilinear; same if already."""
    if tuple(x.shape[-2:]) == (size, size):
        return x
    import torch.nn.functional as F

    out = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                        align_corners=False)
    return out.clamp(-1.0, 1.0).contiguous()


def load_dataset(cfg: DataConfig, log=None) -> Dataset:  # noqa: ANN001
    """Load the configured training set (fetching MNIST on first use), as its entry in
    gankit.datasets says.

    A toy set is a fixed draw (seed 0) of `cfg.toy_samples` samples. An image set's loader
    gives uint8 images; they are cut to `cfg.limit`, scaled to [-1, 1] and resized to
    `cfg.image_size` when it is set and differs from their size.
    """
    spec = datasets.get(cfg.dataset)
    if spec.is_toy:
        return Dataset(cfg.dataset, make_toy(cfg.dataset, cfg.toy_samples, seed=0))
    if spec.needs_dir and not cfg.data_dir:
        raise ConfigError(f"data set {cfg.dataset!r} needs {spec.needs_dir}")
    images, labels = spec.loader()(cfg, log)
    if cfg.limit is not None:
        images = images[: cfg.limit]
        labels = None if labels is None else labels[: cfg.limit]
    if images.size == 0:
        raise DataError(f"data set {cfg.dataset!r} ({cfg.data_dir or 'the MNIST cache'}) holds "
                        f"no pixels (images of shape {tuple(images.shape)}); check its files")
    samples = images_to_tensor(images)
    if cfg.image_size is not None:
        samples = resize_images(samples, cfg.image_size)
    return Dataset(cfg.dataset, samples,
                   None if labels is None else torch.from_numpy(labels).long())
