"""DCGAN's generator and discriminator for 28, 32 and 64-pixel images (Radford et al. 2016).

Shapes as in gankit.core.models: B = batch, Z = latent size, C/H/W = image channels/height/width,
E = class embedding size, w = base channel count (`model.width`).
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.core.layers import CLASS_EMBED_DIM, _join_labels, _project
from gankit.errors import ConfigError

# ---------------------------------------------------------------------------- DCGAN
# Radford et al. 2016: G upsamples with stride-2 transposed convolutions, BatchNorm + ReLU,
# tanh out; D downsamples with stride-2 convolutions and LeakyReLU(0.2).
# D has no BatchNorm, on purpose: (1) the trainer scores reals and fakes in one D pass,
# and BatchNorm would mix their statistics (each sample's score would depend on the
# batch); (2) WGAN-GP's penalty is per sample, which BatchNorm breaks (Gulrajani et al.
# 2017, section 4); (3) a sample's score stays a function of that sample only.

DCGAN_SIZES = (28, 32, 64)
"""Image sizes (H = W) the DCGAN models build natively."""


def dcgan_plan(image_shape: tuple[int, int, int], width: int) -> tuple[int, list[int]]:
    """(start side S, channels from S x S up to the last hidden layer) for an image size.

    28 -> S = 7, [2w, w] (7 -> 14 -> 28); 32 -> S = 4, [4w, 2w, w]; 64 -> S = 4,
    [8w, 4w, 2w, w]. Each step doubles the side; the last goes to C channels.
    """
    c, h, w = image_shape
    if h != w or h not in DCGAN_SIZES:
        raise ConfigError(f"model dcgan builds {', '.join(map(str, DCGAN_SIZES))}-pixel square "
                          f"images, not {h} x {w}; set data.image_size to one of them")
    start = 7 if h == 28 else 4
    steps = {28: 2, 32: 3, 64: 4}[h]
    return start, [width * 2 ** (steps - 1 - i) for i in range(steps)]


class DCGenerator(nn.Module):
    """z (B, Z) -> image (B, C, H, W) in [-1, 1], H = 28, 32 or 64.

    28 x 28, width w = 64:  Z[+E] -> Linear -> (B, 128, 7, 7) -> ConvT -> (B, 64, 14, 14)
                            -> ConvT -> (B, C, 28, 28), tanh.
    32 / 64:                Z[+E] -> Linear -> (B, 4w | 8w, 4, 4) -> ConvT ... -> (B, C, H, W).
    BatchNorm + ReLU after every layer but the last.
    """

    def __init__(
        self,
        z_dim: int = 100,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        width: int = 64,
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.n_classes = n_classes
        self.image_shape = tuple(image_shape)
        self.start, chans = dcgan_plan(self.image_shape, width)
        self.embed = nn.Embedding(n_classes, CLASS_EMBED_DIM) if n_classes else None
        z_in = z_dim + (CLASS_EMBED_DIM if n_classes else 0)
        self.project = nn.Sequential(
            nn.Linear(z_in, chans[0] * self.start**2, bias=False),
            nn.Unflatten(1, (chans[0], self.start, self.start)),  # (B, ch0, S, S)
            nn.BatchNorm2d(chans[0]),
            nn.ReLU(True),
        )
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:], strict=True):
            # (B, c_in, s, s) -> (B, c_out, 2s, 2s)
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(True)]
        # (B, w, H/2, H/2) -> (B, C, H, W)
        layers += [nn.ConvTranspose2d(chans[-1], image_shape[0], 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        h = self.project(_join_labels(self.embed, z, labels))  # (B, ch0, S, S)
        return self.net(h)  # (B, C, H, W)


class DCDiscriminator(nn.Module):
    """image (B, C, H, W) -> logit (B,), H = 28, 32 or 64; no BatchNorm (see above).

    28 x 28, w = 64: (B, C, 28, 28) -> Conv s2 -> (B, 64, 14, 14) -> Conv s2 -> (B, 128, 7, 7)
                     -> flatten phi (B, 6272) -> Linear -> (B,).
    32 / 64:         stride-2 convolutions w, 2w, ... down to (B, 4w | 8w, 4, 4) -> Linear.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        width: int = 64,
        slope: float = 0.2,
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        self.n_classes = n_classes
        start, chans = dcgan_plan(tuple(image_shape), width)
        chans = chans[::-1]  # w, 2w, ...
        layers: list[nn.Module] = []
        c_in = image_shape[0]
        for c_out in chans:
            # (B, c_in, s, s) -> (B, c_out, s/2, s/2)
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(slope, True)]
            c_in = c_out
        layers.append(nn.Flatten(1))  # (B, F), F = top * S * S
        self.features = nn.Sequential(*layers)
        n_features = chans[-1] * start**2
        self.head = nn.Linear(n_features, 1)
        self.embed = nn.Embedding(n_classes, n_features) if n_classes else None

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        phi = self.features(x)  # (B, F)
        return self.head(phi).squeeze(1) + _project(self.embed, phi, labels)  # (B,)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation: conv/linear weights N(0, 0.02), BatchNorm scale N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
