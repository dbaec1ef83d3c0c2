"""The networks: the notes' MLP (Example 2) and DCGAN generators and discriminators, by name.

Read top-down. Shapes: B = batch, Z = latent size (100), P = pixels (784 = 1 x 28 x 28),
C/H/W = image channels/height/width, E = class embedding size, K = number of classes,
V = vector size of a toy sample (1 or 2).
The discriminator returns a logit; the sigmoid lives in the loss (gankit.losses).
`toy-mlp` are the small vector MLPs for the toy distributions (gankit.data.toy).

Every image G is called as `g(z)` or, when conditional (`n_classes > 0`), `g(z, labels)`; every
D as `d(x)` or `d(x, labels)`. Conditional G concatenates a learnt class embedding to z
(called as g(z), it draws the classes 0..K-1 in turn); conditional D adds a projection
term <embed(y), phi(x)> to its logit (Miyato & Koyama 2018), phi(x) being the features
before D's last linear layer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError

CLASS_EMBED_DIM = 32
"""E: size of the class embedding a conditional G concatenates to z."""


def _join_labels(embed: nn.Embedding | None, z: Tensor, labels: Tensor | None) -> Tensor:
    """z (B, Z) -> (B, Z + E) with the labels' embedding when conditional; checks the call.

    A conditional G called without labels draws the classes 0, 1, ..., K-1, 0, ... in turn
    (so code that only knows g(z), e.g. an evaluation, gets a balanced sample).
    """
    if embed is None:
        assert labels is None, "labels given to an unconditional generator"
        return z
    if labels is None:
        labels = torch.arange(z.shape[0], device=z.device) % embed.num_embeddings
    return torch.cat([z, embed(labels)], dim=1)  # (B, Z + E)


def _project(embed: nn.Embedding | None, features: Tensor, labels: Tensor | None) -> Tensor:
    """The projection term <embed(y), phi(x)> (B,), or 0 for an unconditional D."""
    if embed is None:
        assert labels is None, "labels given to an unconditional discriminator"
        return features.new_zeros(())
    assert labels is not None, "a conditional discriminator needs labels"
    return (embed(labels) * features).sum(dim=1)  # (B, F) . (B, F) -> (B,)


def keep_mask(shape: tuple[int, ...] | torch.Size, p: float, device: torch.device) -> Tensor:
    """Bool mask, each entry True with probability 1 - p, independently (the global RNG).

    Each entry compares 16 uniform random bits with a threshold: P(True) = 1 - round(p *
    2^16) / 2^16, within 2^-17 of 1 - p (p = 0.3: 0.69999695; torch.rand(...) >= p is
    within 2^-24). The bits are drawn 64 at a time, four entries per int64 random_ over its
    whole range: on the CPU cheaper than torch.rand's floats or 32 bits per entry (see
    benchmarks/throughput.py, gankit-*-rand-dropout and gankit-*-32bit-dropout).
    """
    n = 1
    for side in shape:
        n *= side
    threshold = round(p * 2**16) - 2**15  # U16 >= round(p 2^16)  <=>  I16 >= this
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    return bits.view(torch.int16)[:n].view(shape) >= threshold


class Dropout(nn.Dropout):
    """nn.Dropout's math, x * keep / (1 - p) with P(keep) = 1 - p, with a faster mask.

    The keep mask comes from `keep_mask` (random bits and a comparison) instead of
    bernoulli_ (faster on the CPU; see benchmarks/throughput.py). For fp32 inputs the mask
    is the fp32 tensor keep / (1 - p), so forward and backward are one multiplication each
    with no bool -> float conversion (bit-identical to x * keep * (1 / (1 - p))).
    On GPUs it is torch's own fused dropout (one kernel, CUDA-graph safe).
    Identity in eval mode or at p = 0.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":  # GPUs: torch's fused dropout kernel (one launch)
            return nn.functional.dropout(x, self.p, training=True)
        keep = keep_mask(x.shape, self.p, x.device)
        scale = 1.0 / (1.0 - self.p)
        if x.dtype == torch.float32:
            return x * torch.where(keep, scale, 0.0)
        # bf16/fp16 (autocast): a low-precision scaled mask would round 1 / (1 - p)
        return x * keep * scale


class MLPGenerator(nn.Module):
    """z (B, Z) -> image (B, C, H, W) in [-1, 1]: Z -> 256 -> 512 -> 1024 -> P, tanh."""

    def __init__(
        self,
        z_dim: int = 100,
        hidden: tuple[int, ...] = (256, 512, 1024),
        image_shape: tuple[int, int, int] = (1, 28, 28),
        slope: float = 0.2,
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.n_classes = n_classes
        self.image_shape = tuple(image_shape)
        pixels = image_shape[0] * image_shape[1] * image_shape[2]
        self.embed = nn.Embedding(n_classes, CLASS_EMBED_DIM) if n_classes else None
        layers: list[nn.Module] = []
        width = z_dim + (CLASS_EMBED_DIM if n_classes else 0)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(slope, inplace=True)]
            width = h
        layers += [nn.Linear(width, pixels), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        x = self.net(_join_labels(self.embed, z, labels))  # (B, Z[+E]) -> (B, P)
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
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.embed = nn.Embedding(n_classes, hidden[-1]) if n_classes else None
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

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embed is None:
            return self.net(x.flatten(1)).squeeze(1)  # (B, P) -> (B, 1) -> (B,)
        features = self.net[:-1](x.flatten(1))  # (B, P) -> (B, 256)
        return self.net[-1](features).squeeze(1) + _project(self.embed, features, labels)


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

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        assert labels is None, "labels given to an unconditional generator"
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

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        assert labels is None, "labels given to an unconditional discriminator"
        return self.net(x).squeeze(1)  # (B, V) -> (B, 1) -> (B,)


MODELS = ("mlp", "dcgan", "toy-mlp")
"""Model names accepted by `build_models`."""


def build_models(
    name: str,
    z_dim: int,
    image_shape: tuple[int, ...],
    g_hidden: tuple[int, ...] = (256, 512, 1024),
    d_hidden: tuple[int, ...] = (1024, 512, 256),
    dropout: float = 0.3,
    width: int = 64,
    n_classes: int = 0,
    init: str = "default",
) -> tuple[nn.Module, nn.Module]:
    """Build (G, D) by name; conditional on `n_classes` classes when > 0.

    `image_shape` is the sample shape: (C, H, W) for `mlp` and `dcgan`, (V,) with V in
    {1, 2} for `toy-mlp`. `g_hidden`, `d_hidden` and `dropout` are the MLPs'; `width` is
    DCGAN's base channels. `init` (see INITS): `default` keeps each family's own
    initialisation (PyTorch's for `mlp` and `toy-mlp`, DCGAN's N(0, 0.02) for `dcgan`);
    `keras` re-initialises every layer as Keras does (`keras_init`).
    """
    if init not in INITS:
        raise ConfigError(f"unknown model.init {init!r}; choose one of: {', '.join(INITS)}")
    g, d = _build(name, z_dim, tuple(image_shape), g_hidden, d_hidden, dropout, width,
                  n_classes)
    if init == "keras":
        g.apply(keras_init)
        d.apply(keras_init)
    return g, d


INITS = ("default", "keras")
"""Weight initialisations `build_models` knows (config key model.init)."""


def keras_init(module: nn.Module) -> None:
    """Keras's defaults, in place: Dense/Conv kernels Glorot-uniform, biases 0, embeddings
    U(-0.05, 0.05). Glorot-uniform draws W ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)):
    for the notes' 784 -> 1024 layer a = 0.058, where PyTorch's default
    (kaiming_uniform with a = sqrt 5) gives 1 / sqrt(784) = 0.036 and a uniform bias."""
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.uniform_(module.weight, -0.05, 0.05)


def _build(
    name: str, z_dim: int, shape: tuple[int, ...], g_hidden: tuple[int, ...],
    d_hidden: tuple[int, ...], dropout: float, width: int, n_classes: int,
) -> tuple[nn.Module, nn.Module]:
    """The models of `build_models`, with their family's own initialisation."""
    if name == "toy-mlp":
        if len(shape) != 1 or shape[0] not in (1, 2):
            raise ConfigError(f"model 'toy-mlp' needs vector samples of shape (1,) or (2,), "
                              f"got {shape}; use model 'mlp' for images")
        if n_classes:
            raise ConfigError("model 'toy-mlp' is not conditional; drop --conditional")
        g = ToyGenerator(z_dim, tuple(g_hidden), shape[0])
        d = ToyDiscriminator(shape[0], tuple(d_hidden), dropout=dropout)
        return g, d
    if name in ("mlp", "dcgan") and len(shape) != 3:
        raise ConfigError(f"model {name!r} needs image samples (C, H, W), got shape {shape}; "
                          "use model 'toy-mlp' for the toy data sets")
    if name == "mlp":
        g = MLPGenerator(z_dim, tuple(g_hidden), shape, n_classes=n_classes)
        d = MLPDiscriminator(tuple(d_hidden), shape, dropout=dropout, n_classes=n_classes)
        return g, d
    if name == "dcgan":
        g = DCGenerator(z_dim, shape, width, n_classes)
        d = DCDiscriminator(shape, width, n_classes=n_classes)
        g.apply(dcgan_init)
        d.apply(dcgan_init)
        return g, d
    raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def generate(
    g: nn.Module, z: Tensor, labels: Tensor | None = None, batch: int = 1000
) -> Tensor:
    """Run G in eval mode over z (and class labels, for a conditional G) in chunks.

    Returns images on z's device. A conditional G takes `labels` (N,) int64 (None: the
    classes 0..K-1 in turn over the N images); an unconditional one refuses them.
    """
    n_classes = getattr(g, "n_classes", 0)
    if n_classes and labels is None:
        labels = torch.arange(z.shape[0]) % n_classes
    if not n_classes and labels is not None:
        raise ConfigError("this generator is not conditional: it takes no class labels; "
                          "drop --digit / --per-class")
    if labels is not None:
        labels = labels.to(device=z.device, dtype=torch.long)
        if labels.shape != z.shape[:1]:
            raise ConfigError(f"{labels.shape[0]} labels for {z.shape[0]} latents")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
            raise ConfigError(f"class label {int(labels.max())} is out of range; this "
                              f"generator knows classes 0..{n_classes - 1}")
    was_training = g.training
    g.eval()
    if labels is None:
        out = torch.cat([g(chunk) for chunk in z.split(batch)])
    else:
        out = torch.cat([g(zc, yc) for zc, yc in zip(z.split(batch), labels.split(batch),
                                                     strict=True)])
    g.train(was_training)
    return out


def class_grid_labels(n_classes: int, per_class: int = 10) -> Tensor:
    """Labels for a grid with one row per class: [0]*per_class + [1]*per_class + ... (K*n,)."""
    return torch.arange(n_classes).repeat_interleave(per_class)
