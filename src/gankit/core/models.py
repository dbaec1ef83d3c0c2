"""The networks: the notes' MLP (Example 2) and DCGAN generators and discriminators, by name.

Read top-down. Shapes: B = batch, Z = latent size (100), P = pixels (784 = 1 x 28 x 28),
C/H/W = image channels/height/width, E = class embedding size, K = number of classes,
V = vector size of a toy sample (1 or 2).
The discriminator returns a logit; the sigmoid lives in the loss (gankit.core.losses).
`toy-mlp` are the small vector MLPs for the toy distributions (gankit.data.toy).

Every image G is called as `g(z)` or, when conditional (`n_classes > 0`), `g(z, labels)`; every
D as `d(x)` or `d(x, labels)`. Conditional G concatenates a learnt class embedding to z
(called as g(z), it draws the classes 0..K-1 in turn); conditional D adds a projection
term <embed(y), phi(x)> to its logit (Miyato & Koyama 2018), phi(x) being the features
before D's last linear layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from gankit.core.dcgan import DCDiscriminator, DCGenerator, dcgan_init
from gankit.core.layers import CLASS_EMBED_DIM, Dropout, _join_labels, _project, pack_samples
from gankit.errors import ConfigError

if TYPE_CHECKING:
    from gankit.config import ModelConfig


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
    With `pack` > 1 (PacGAN, gankit.core.layers.pack_samples) it reads `pack` images at once:
    (B, C, H, W) -> logit (B / pack,), first layer pack * P wide.
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (1024, 512, 256),
        image_shape: tuple[int, int, int] = (1, 28, 28),
        slope: float = 0.2,
        dropout: float = 0.3,
        dropout_layers: int = 2,
        n_classes: int = 0,
        pack: int = 1,
    ) -> None:
        super().__init__()
        check_pack(pack, "mlp", bool(n_classes))
        self.n_classes = n_classes
        self.pack = pack
        self.embed = nn.Embedding(n_classes, hidden[-1]) if n_classes else None
        pixels = image_shape[0] * image_shape[1] * image_shape[2]
        layers: list[nn.Module] = []
        width = pixels * pack
        for i, h in enumerate(hidden):
            layers += [nn.Linear(width, h), nn.LeakyReLU(slope, inplace=True)]
            if i < dropout_layers and dropout > 0:
                layers.append(Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embed is None:  # (B, P) -> (B / pack, pack P) -> (B / pack, 1) -> (B / pack,)
            return self.net(pack_samples(x, self.pack)).squeeze(1)
        features = self.net[:-1](x.flatten(1))  # (B, P) -> (B, 256)
        return self.net[-1](features).squeeze(1) + _project(self.embed, features, labels)


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
    """sample (B, V) -> logit (B,): V -> hidden... -> 1 with ReLU, optional dropout.

    With `pack` > 1 (PacGAN, gankit.core.layers.pack_samples): (B, V) -> (B / pack, pack V) ->
    logit (B / pack,), D judging `pack` samples at once.
    """

    def __init__(self, dim: int, hidden: tuple[int, ...], dropout: float = 0.0,
                 pack: int = 1) -> None:
        super().__init__()
        self.pack = pack
        layers: list[nn.Module] = []
        width = dim * pack
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        assert labels is None, "labels given to an unconditional discriminator"
        return self.net(pack_samples(x, self.pack)).squeeze(1)  # (B/pack, pack V) -> (B/pack,)


MODELS = ("mlp", "dcgan", "toy-mlp")
"""Model names accepted by `build_models`."""


def build_models(
    model: ModelConfig, shape: tuple[int, ...], n_classes: int = 0
) -> tuple[nn.Module, nn.Module]:
    """Build (G, D) as `model` (a gankit.config.ModelConfig) describes them, for samples of
    `shape`; conditional on `n_classes` classes when > 0.

    `shape` is the sample shape: (C, H, W) for `mlp` and `dcgan`, (V,) with V in {1, 2} for
    `toy-mlp`. `g_hidden`, `d_hidden` and `dropout` are the MLPs'; `width` is DCGAN's base
    channels. `init` (see INITS): `default` keeps each family's own initialisation
    (PyTorch's for `mlp` and `toy-mlp`, DCGAN's N(0, 0.02) for `dcgan`); `keras`
    re-initialises every layer as Keras does (`keras_init`). `pack` > 1 makes D a PacGAN
    discriminator of `pack` samples at once (`mlp` and `toy-mlp` only). The weights come
    from the global RNG: seed it first (gankit.core.networks.seeded_models does).
    """
    m = model
    if m.init not in INITS:
        raise ConfigError(f"unknown model.init {m.init!r}; choose one of: {', '.join(INITS)}")
    check_pack(m.pack, m.name, bool(n_classes))
    g, d = _build(m.name, m.z_dim, tuple(shape), tuple(m.g_hidden), tuple(m.d_hidden),
                  m.dropout, m.width, n_classes, m.pack)
    if m.init == "keras":
        g.apply(keras_init)
        d.apply(keras_init)
    return g, d


INITS = ("default", "keras")
"""Weight initialisations `build_models` knows (config key model.init)."""

PACKABLE = ("mlp", "toy-mlp")
"""Models whose D can be packed (model.pack > 1)."""


def check_pack(pack: int, name: str, conditional: bool = False) -> None:
    """Raise a one-line ConfigError when `pack` is not a packing model `name` can build."""
    if not 1 <= pack <= MAX_PACK:
        raise ConfigError(f"model.pack={pack} must be in 1..{MAX_PACK} (1: no packing; PacGAN "
                          "uses 2-4)")
    if pack > 1 and name not in PACKABLE:
        raise ConfigError(f"model.pack={pack} works with models {', '.join(PACKABLE)}, not "
                          f"{name!r}; use model.pack=1")
    if pack > 1 and conditional:
        raise ConfigError(f"model.pack={pack} does not fit a conditional D (one label per "
                          "image); drop --conditional or use model.pack=1")


MAX_PACK = 64
"""Most samples a packed D may read at once."""


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
    d_hidden: tuple[int, ...], dropout: float, width: int, n_classes: int, pack: int,
) -> tuple[nn.Module, nn.Module]:
    """The models of `build_models`, with their family's own initialisation."""
    if name == "toy-mlp":
        if len(shape) != 1 or shape[0] not in (1, 2):
            raise ConfigError(f"model 'toy-mlp' needs vector samples of shape (1,) or (2,), "
                              f"got {shape}; use model 'mlp' for images")
        if n_classes:
            raise ConfigError("model 'toy-mlp' is not conditional; drop --conditional")
        g = ToyGenerator(z_dim, tuple(g_hidden), shape[0])
        d = ToyDiscriminator(shape[0], tuple(d_hidden), dropout=dropout, pack=pack)
        return g, d
    if name in ("mlp", "dcgan") and len(shape) != 3:
        raise ConfigError(f"model {name!r} needs image samples (C, H, W), got shape {shape}; "
                          "use model 'toy-mlp' for the toy data sets")
    if name == "mlp":
        g = MLPGenerator(z_dim, tuple(g_hidden), shape, n_classes=n_classes)
        d = MLPDiscriminator(tuple(d_hidden), shape, dropout=dropout, n_classes=n_classes,
                             pack=pack)
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


def summary(module: nn.Module, input_shape: tuple[int, ...], title: str) -> str:
    """A Keras-like table of `module` (as the notes' code prints with `summary()`): each
    layer with its output shape (batch left out) and parameter count, then the total.
    Runs one forward pass on zeros of `input_shape` (no batch dimension) in eval mode."""
    rows: list[tuple[str, str, str]] = []
    hooks = []
    for name, layer in module.named_modules():
        if next(layer.children(), None) is None and name:  # a leaf layer
            def record(mod: nn.Module, _inp: object, out: Tensor, name: str = name) -> None:
                count = sum(p.numel() for p in mod.parameters(recurse=False))
                rows.append((f"{name} ({type(mod).__name__})", str(tuple(out.shape[1:])),
                             f"{count:,}"))
            hooks.append(layer.register_forward_hook(record))
    device = next(module.parameters()).device
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(2 * getattr(module, "pack", 1), *input_shape, device=device)
            if getattr(module, "n_classes", 0) and not hasattr(module, "z_dim"):  # conditional D
                module(x, torch.zeros(2, dtype=torch.long, device=device))
            else:
                module(x)
    finally:
        module.train(was)
        for h in hooks:
            h.remove()
    width = max([len(r[0]) for r in rows] + [5])
    lines = [f"{title}:", f"  {'layer':<{width}}  {'output shape':<14}  params"]
    lines += [f"  {a:<{width}}  {b:<14}  {c}" for a, b, c in rows]
    total = sum(p.numel() for p in module.parameters())
    lines.append(f"  total params: {total:,} (trainable {count_parameters(module):,})")
    return "\n".join(lines)


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
