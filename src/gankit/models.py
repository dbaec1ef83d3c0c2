"""The networks: the notes' MLP generator and discriminator (Example 2), by name.

Read top-down. Shapes: B = batch, Z = latent size (100), P = pixels (784 = 1 x 28 x 28),
V = vector size of a toy sample (1 or 2).
The discriminator returns a logit; the sigmoid lives in the loss (gankit.losses).
`toy-mlp` are the small vector MLPs for the toy distributions (gankit.data.toy).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError


class Dropout(nn.Dropout):
    """nn.Dropout's math, x * (U >= p) / (1 - p) with U ~ Uniform[0, 1), with a faster mask.

    The keep mask comes from torch.rand and a comparison instead of bernoulli_ (faster on
    the CPU; see benchmarks/throughput.py). Identity in eval mode or at p = 0.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape, device=x.device) >= self.p
        return x * keep * (1.0 / (1.0 - self.p))


class MLPGenerator(nn.Module):
    """z (B, Z) -> image (B, C, H, W) in [-1, 1]: Z -> 256 -> 512 -> 1024 -> P, tanh."""

    def __init__(
        self,
        z_dim: int = 100,
        hidden: tuple[int, ...] = (256, 512, 1024),
        image_shape: tuple[int, int, int] = (1, 28, 28),
        slope: float = 0.2,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.image_shape = tuple(image_shape)
        pixels = image_shape[0] * image_shape[1] * image_shape[2]
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(slope, inplace=True)]
            width = h
        layers += [nn.Linear(width, pixels), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        x = self.net(z)  # (B, P)
        return x.view(z.shape[0], *self.image_shape)  # (B, C, H, W)


class MLPDiscriminator(nn.Module):
    """image (B, C, H, W) -> logit (B,): P -> 1024 -> 512 -> 256 -> 1.

    LeakyReLU(0.2) after every hidden layer, Dropout(0.3) after the first two, as in the notes.
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (1024, 512, 256),
        image_shape: tuple[int, int, int] = (1, 28, 28),
        slope: float = 0.2,
        dropout: float = 0.3,
        dropout_layers: int = 2,
    ) -> None:
        super().__init__()
        pixels = image_shape[0] * image_shape[1] * image_shape[2]
        layers: list[nn.Module] = []
        width = pixels
        for i, h in enumerate(hidden):
            layers += [nn.Linear(width, h), nn.LeakyReLU(slope, inplace=True)]
            if i < dropout_layers and dropout > 0:
                layers.append(Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1)).squeeze(1)  # (B, P) -> (B, 1) -> (B,)


class ToyGenerator(nn.Module):
    """z (B, Z) -> sample (B, V): Z -> hidden... -> V with ReLU, linear output (no tanh).

    The toy data are not bounded to [-1, 1] (the 1-D Gaussian sits at 4, the grid spans
    [-4, 4]), so the output layer is linear.
    """

    def __init__(self, z_dim: int, hidden: tuple[int, ...], dim: int) -> None:
        super().__init__()
        self.z_dim = z_dim
        layers: list[nn.Module] = []
        width = z_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)  # (B, Z) -> (B, V)


class ToyDiscriminator(nn.Module):
    """sample (B, V) -> logit (B,): V -> hidden... -> 1 with ReLU, optional dropout."""

    def __init__(self, dim: int, hidden: tuple[int, ...], dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)  # (B, V) -> (B, 1) -> (B,)


MODELS = ("mlp", "toy-mlp")
"""Model names accepted by `build_models`."""


def build_models(
    name: str,
    z_dim: int,
    image_shape: tuple[int, ...],
    g_hidden: tuple[int, ...] = (256, 512, 1024),
    d_hidden: tuple[int, ...] = (1024, 512, 256),
    dropout: float = 0.3,
) -> tuple[nn.Module, nn.Module]:
    """Build (G, D) by name; the weights use PyTorch's default initialisation.

    `image_shape` is the sample shape: (C, H, W) for `mlp`, (V,) with V in {1, 2} for
    `toy-mlp`.
    """
    shape = tuple(image_shape)
    if name == "toy-mlp":
        if len(shape) != 1 or shape[0] not in (1, 2):
            raise ConfigError(f"model 'toy-mlp' needs vector samples of shape (1,) or (2,), "
                              f"got {shape}; use model 'mlp' for images")
        g = ToyGenerator(z_dim, tuple(g_hidden), shape[0])
        d = ToyDiscriminator(shape[0], tuple(d_hidden), dropout=dropout)
        return g, d
    if name == "mlp":
        if len(shape) != 3:
            raise ConfigError(f"model 'mlp' needs image samples (C, H, W), got shape {shape}; "
                              "use model 'toy-mlp' for the toy data sets")
        g = MLPGenerator(z_dim, tuple(g_hidden), image_shape)
        d = MLPDiscriminator(tuple(d_hidden), image_shape, dropout=dropout)
        return g, d
    raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def generate(g: nn.Module, z: Tensor, batch: int = 1000) -> Tensor:
    """Run G in eval mode over z in chunks; returns images on z's device."""
    was_training = g.training
    g.eval()
    out = torch.cat([g(chunk) for chunk in z.split(batch)])
    g.train(was_training)
    return out
