"""Training data: `load_dataset(cfg.data)` turns a data set name into one tensor.

Images come back as float32 (N, C, H, W) scaled to [-1, 1] by (x - 127.5) / 127.5, exactly
as the notes do, with their labels (N,) when the data set has them. Toy sets
(gankit.data.toy) come back as float32 vectors (N, V), a fixed draw with seed 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gankit.config import DataConfig
from gankit.data.toy import is_toy, make_toy
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


FOLDER_IMAGE_SIZE = 32
"""Image side of a folder data set when `data.image_size` is None (IDX/MNIST: native)."""


def load_dataset(cfg: DataConfig, log=None) -> Dataset:  # noqa: ANN001
    """Load the configured training set (fetching MNIST on first use).

    `idx`: any folder of MNIST-named IDX files (e.g. Fashion-MNIST), no checksum.
    `folder`: PNG/JPEG images (gankit.data.folder). Images are resized to
    `cfg.image_size` when it is set and differs from their size (folders: default 32).
    """
    if cfg.dataset == "folder":
        from gankit.data.folder import load_folder

        if not cfg.data_dir:
            raise ConfigError("data set 'folder' needs its folder: use --data folder:PATH")
        images, labels, _ = load_folder(cfg.data_dir, cfg.image_size or FOLDER_IMAGE_SIZE,
                                        log=log)
        if cfg.limit is not None:
            images = images[: cfg.limit]
            labels = None if labels is None else labels[: cfg.limit]
        return Dataset(cfg.dataset, images_to_tensor(images),
                       None if labels is None else torch.from_numpy(labels))
    if cfg.dataset == "mnist":
        from gankit.data.mnist import load_mnist

        kwargs = {"data_dir": cfg.data_dir}
        if log is not None:
            kwargs["progress"] = log
        images, labels = load_mnist("train", **kwargs)
    elif is_toy(cfg.dataset):
        return Dataset(cfg.dataset, make_toy(cfg.dataset, cfg.toy_samples, seed=0))
    elif cfg.dataset == "idx":
        from gankit.data.mnist import load_idx_folder

        images, labels = load_idx_folder(cfg.data_dir, "train", num_classes=None)
    else:
        raise ConfigError(f"unknown data set {cfg.dataset!r}; choose one of: mnist, idx, folder")
    if cfg.limit is not None:
        images, labels = images[: cfg.limit], labels[: cfg.limit]
    if images.size == 0:
        raise DataError(f"data set {cfg.dataset!r} ({cfg.data_dir or 'the MNIST cache'}) holds "
                        f"no pixels (images of shape {tuple(images.shape)}); check its files")
    samples = images_to_tensor(images)
    if cfg.image_size is not None:
        samples = resize_images(samples, cfg.image_size)
    return Dataset(cfg.dataset, samples, torch.from_numpy(labels).long())
