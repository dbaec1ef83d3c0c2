"""Typed run configuration: one dataclass per concern, presets, file loading, overrides.

`Config` composes `DataConfig`, `ModelConfig`, `LossConfig` and `TrainConfig`. A config is
built from a preset, then a file (`--config FILE`, YAML or JSON), then flag overrides, and
validated up front: every problem is collected and reported in one `ConfigError`.
Unknown keys raise. The whole config is saved as `config.yaml` in the run folder.

Hostile input is bounded: a config file over MAX_CONFIG_BYTES is refused after reading at
most that many bytes (so `--config /dev/zero` ends at once), error messages quote at most
a short prefix of a value (`gankit.errors.short`), and sizes (model widths, image size,
toy samples, threads, seed) are checked against limits and this machine's memory before
anything is allocated. A `preset:` key in a --config file gives the starting preset; given
together with a different --preset flag it is an error (neither silently wins).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from gankit.errors import ConfigError, short


@dataclass
class DataConfig:
    """What to train on."""

    dataset: str = "mnist"
    """Data set name: `mnist`, `idx` (any MNIST-format IDX folder given by `data_dir`, e.g.
    Fashion-MNIST), `folder` (PNG/JPEG images in `data_dir`; CLI `--data folder:PATH`), or a
    toy set `gaussian1d`, `ring2d`, `grid2d` (gankit.data.toy)."""
    data_dir: str | None = None
    """mnist: folder of IDX files to use before any download (also env GANKIT_DATA_DIR);
    idx: the folder of IDX files; folder: the folder of images (subfolders = classes)."""
    image_size: int | None = None
    """Side of the (square) training images; None = the data's own size for mnist/idx
    (28 x 28 for MNIST) and 32 for folder. Images of another size are resized to it."""
    limit: int | None = None
    """Use only the first N training images (tests and smoke runs); None = all."""
    toy_samples: int = 10_000
    """Size of a toy training set: a fixed draw (seed 0) from the toy distribution."""


@dataclass
class ModelConfig:
    """The networks (gankit.models)."""

    name: str = "mlp"
    """Model family: `mlp` (the notes' Example 2, images), `dcgan` (28, 32 or 64-pixel
    images) or `toy-mlp` (vectors, toy sets)."""
    z_dim: int = 100
    """Size of the latent vector z ~ N(0, I)."""
    g_hidden: list[int] = field(default_factory=lambda: [256, 512, 1024])
    """Hidden widths of the MLP generator."""
    d_hidden: list[int] = field(default_factory=lambda: [1024, 512, 256])
    """Hidden widths of the MLP discriminator."""
    dropout: float = 0.3
    """Dropout after the discriminator's first two hidden layers (0 disables it)."""
    width: int = 64
    """DCGAN's base channel count w (G: ... 2w -> w -> C; D: C -> w -> 2w ...)."""
    conditional: bool = False
    """Condition G and D on the data set's class labels (G: embedding; D: projection)."""
    init: str = "default"
    """Weight initialisation: `default` (each family's own: PyTorch's for the MLPs, DCGAN's
    N(0, 0.02)) or `keras` (Glorot-uniform weights, zero biases, as the notes' Keras code)."""


@dataclass
class LossConfig:
    """The game (gankit.losses)."""

    game: str = "non-saturating"
    """Game: `minimax`, `non-saturating` (the notes' code), `maximum-likelihood`,
    `least-squares`, `wgan-gp`, `hinge` (gankit.losses.GAMES)."""
    real_label: float = 0.9
    """Target for real images in D's cost: 0.9 is one-sided label smoothing (the notes), 1 off."""


@dataclass
class TrainConfig:
    """The optimisation loop (gankit.core.trainer)."""

    epochs: int = 400
    """Passes over a fresh shuffle of the whole training set."""
    batch_size: int = 256
    """Images per iteration; an epoch has floor(N / batch_size) iterations."""
    n_critic: int = 1
    """D steps per G step. Each D step takes its own real batch, so an epoch still has
    floor(N / batch_size) iterations (= D steps) and floor(that / n_critic) G steps."""
    ema: float | None = None
    """Decay of an exponential moving average of G's weights used for samples and
    evaluation, e.g. 0.999; None or 0 = off."""
    lr_d: float = 2e-4
    """Adam learning rate of D (the notes: 0.0002)."""
    lr_g: float = 2e-4
    """Adam learning rate of G (the notes' Keras code really trains G with 0.001)."""
    beta1_d: float = 0.5
    """Adam beta1 of D (the notes: 0.5)."""
    beta1_g: float = 0.5
    """Adam beta1 of G (the notes' Keras code really trains G with 0.9)."""
    beta2: float = 0.999
    """Adam beta2 of both optimisers."""
    seed: int = 0
    """Seeds weights, noise, shuffles and the fixed sample latents."""
    device: str = "auto"
    """`auto` (CUDA when present, else CPU), `cpu`, `cuda` or `cuda:N`."""
    precision: str = "fp32"
    """`fp32`, `bf16` autocast (fp32 master weights), or `auto`: bf16 where the hardware
    computes it natively (GPUs with bf16, CPUs with AVX-512 BF16 / AMX), else fp32."""
    compile: bool = False
    """torch.compile G and D (opt-in: compiling takes a while; see benchmarks/)."""
    cuda_graphs: bool = True
    """Replay each training iteration as a CUDA graph (single-process CUDA runs; no effect
    on the CPU, under torchrun or with compile). See gankit.runtime.graphs."""
    threads: int = 0
    """CPU threads for PyTorch (torch.set_num_threads); 0 keeps PyTorch's default. On a
    machine shared with other jobs, 1 can be several times faster than one per core."""
    sample_every: int = 50
    """Write a 10 x 10 sample grid at epoch 1, every this many epochs, and at the end."""
    checkpoint_every: int = 5
    """Write a checkpoint every this many epochs, and at the end."""
    keep_checkpoints: int = 3
    """Keep the newest this many checkpoints."""
    nan_retries: int = 3
    """Retries of an epoch whose losses or weights became NaN/inf (gankit.runs.guard); 0 = stop."""
    progress: bool = True
    """Show a tqdm progress bar per epoch."""
    eval_every: int | None = None
    """Evaluate G (`gankit eval`'s metrics) every K epochs and at the end into metrics.jsonl."""
    eval_n: int = 10000
    """Samples per evaluation during training (10,000 for reported figures)."""
    tensorboard: bool = False
    """Also log scalars and sample grids to RUN/tensorboard (needs gankit[tensorboard])."""
    on_collapse: str = "warn"
    """What a detected D win, mode collapse or stalled G does (gankit.runs.health): `warn` (a line,
    a mark in metrics.jsonl, the progress bar and the report), `stop` (the same, then a
    checkpoint and exit status 3) or `off` (no checks)."""


@dataclass
class Config:
    """A whole run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = "default"
    """The preset this config started from (informational)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict of builtins (YAML / JSON / checkpoint friendly)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Build from a nested dict; unknown keys and bad values raise ConfigError."""
        cfg = cls()
        apply_overrides(cfg, flatten(data))
        return cfg


SECTIONS = ("data", "model", "loss", "train")

PRESETS: dict[str, dict[str, Any]] = {
    "seed": {
        "model.init": "keras",
        "train.epochs": 400,
        "train.batch_size": 256,
        "train.sample_every": 50,
        "train.checkpoint_every": 10,
    },
    # The first run (`make demo`): the notes' MLP G and D and game, with the recipe that
    # learns on every seed and numeric path measured (README, "The default recipe"):
    # Keras's initialisation (PyTorch's let D win on some seeds), batch 128 at lr 4e-4
    # (the notes: 256 at 2e-4; 128 costs less per image on a CPU than 64), EMA of G.
    "default": {
        "model.init": "keras",
        "train.epochs": 12,
        "train.batch_size": 128,
        "train.lr_d": 4e-4,
        "train.lr_g": 4e-4,
        "train.precision": "auto",
        "train.ema": 0.999,
        "train.sample_every": 4,
        "train.checkpoint_every": 4,
    },


    "toy": {
        "data.dataset": "ring2d",
        "model.name": "toy-mlp",
        "model.z_dim": 16,
        "model.g_hidden": [128, 128],
        "model.d_hidden": [128, 128],
        "model.dropout": 0.0,
        "loss.real_label": 1.0,
        "train.epochs": 60,
        "train.batch_size": 256,
        "train.lr_d": 1e-3,
        "train.lr_g": 1e-3,
        "train.sample_every": 10,
        "train.checkpoint_every": 1000,
        "train.progress": False,
    },
    "smoke": {
        "data.limit": 512,
        "model.g_hidden": [32, 64],
        "model.d_hidden": [64, 32],
        "train.epochs": 2,
        "train.batch_size": 64,
        "train.sample_every": 1,
        "train.checkpoint_every": 1,
        "train.progress": False,
    },
}
"""Named starting points. `seed` is the notes' run: 400 epochs at batch 256."""

PRESET_HELP = {
    "seed": "the notes' Example 2: 400 epochs at batch 256 (hours on a laptop CPU)",
    "default": "the notes' models, about 5 minutes on 2 CPU cores",
    "smoke": "tiny models on 512 images, 2 epochs: seconds, for tests",
    "toy": "small vector MLPs on a toy set (default ring2d), 60 epochs: under a minute on a CPU",
}


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'train': {'epochs': 3}} -> {'train.epochs': 3}; leaves that are lists stay whole."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _coerce(name: str, value: Any, kind: Any) -> Any:
    """Convert a value (possibly a CLI string) to the field's type, or raise ConfigError."""
    text = str(kind)
    if isinstance(value, str) and "str" not in text.split("|")[0]:
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            pass
    if value is None:
        if "None" in text:
            return None
        raise ConfigError(f"{name} may not be empty; give a value")
    if text.startswith("bool"):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}={short(value)} is not true/false")
    if text.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{name}={short(value)} is not an integer")
        return value
    if text.startswith("float"):
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name}={short(value)} is not a number")
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise ConfigError(f"{name}={short(value)} is not a finite number")
        return value
    if text.startswith("list"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(f"{name}={short(value)} is not a list of integers, e.g. [256,512]")
        return list(value)
    if text.startswith("str"):
        if isinstance(value, (dict, list, tuple, set)):
            raise ConfigError(f"{name}={short(value)} is not a string")
        return str(value)
    raise AssertionError(f"unhandled type {kind} for {name}")  # pragma: no cover


def apply_overrides(cfg: Config, overrides: dict[str, Any]) -> Config:
    """Set dotted keys (`train.epochs`) in place; unknown keys raise, listing the choices."""
    problems = []
    for key, value in overrides.items():
        key = str(key)
        if key == "preset":
            cfg.preset = short(value, 40) if not isinstance(value, str) else value[:100]
            continue
        if key in INFO_KEYS:
            continue
        section, _, attr = key.partition(".")
        if section not in SECTIONS:
            problems.append(f"unknown config section {short(section, 40)} in {short(key, 60)} "
                            f"(sections: {', '.join(SECTIONS)})")
            continue
        sub = getattr(cfg, section)
        known = {f.name: f for f in fields(sub)}
        if attr not in known:
            problems.append(f"unknown config key {short(key, 60)} (keys of {section}: "
                            f"{', '.join(known)})")
            continue
        try:
            setattr(sub, attr, _coerce(key, value, known[attr].type))
        except ConfigError as err:
            problems.append(str(err))
    if problems:
        raise ConfigError("; ".join(problems))
    return cfg


INFO_KEYS = ("run_id", "device_used", "precision_used")
"""Top-level keys of a run's config.yaml that are not settings (`gankit.run` writes them)."""


def config_changes(old: Config, new: Config) -> dict[str, Any]:
    """Dotted keys whose value differs from `old` in `new`, with the new values (no preset)."""
    a, b = flatten(old.to_dict()), flatten(new.to_dict())
    return {k: v for k, v in b.items() if k != "preset" and a.get(k) != v}


def config_value(cfg: Config, key: str) -> Any:
    """The value of a dotted key (`train.epochs`) or `preset` (keys as in apply_overrides)."""
    if key == "preset":
        return cfg.preset
    section, _, attr = key.partition(".")
    return getattr(getattr(cfg, section), attr)


def from_preset(name: str) -> Config:
    """A fresh config of a named preset."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {short(name, 60)}; choose one of: {', '.join(PRESETS)}")
    cfg = Config(preset=name)
    return apply_overrides(cfg, PRESETS[name])


MAX_CONFIG_BYTES = 1 << 20
"""Largest config file read (1 MiB); a real config is a few hundred bytes."""


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file into a nested dict, with one-line errors.

    Reads at most MAX_CONFIG_BYTES + 1 bytes, so a huge file or an endless stream
    (/dev/zero) is refused at once instead of being read until memory runs out.
    """
    p = Path(path)
    try:
        if p.is_dir():
            raise ConfigError(f"config file {short(str(p), 200)} is a folder; give a .yaml file")
        with open(p, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"cannot read config file {short(str(p), 200)}: "
                          f"{err.strerror or err}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config file {short(str(p), 200)} is larger than "
                          f"{MAX_CONFIG_BYTES >> 20} MiB; a config is a small YAML or JSON file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(p)!r} is not UTF-8 text") from None
    try:
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"config file {str(p)!r} is not valid YAML/JSON: "
                          f"{short(first, 200)[1:-1]}") from None
    except RecursionError:
        raise ConfigError(f"config file {str(p)!r} is nested too deeply to be a config") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping of sections")
    for key, value in data.items():
        if str(key) in SECTIONS and not isinstance(value, dict):
            raise ConfigError(f"config file {str(p)!r}: section {key} must be a mapping of "
                              f"keys, not {short(value, 60)}")
    return data


def validate(cfg: Config, machine: bool = True) -> Config:
    """Check every value; raise one ConfigError listing all problems.

    `machine` False skips the checks against this machine (threads, memory for training),
    e.g. for a checkpoint's config that is only sampled from.
    """
    from gankit.losses import GAMES
    from gankit.models import INITS, MODELS

    problems: list[str] = []
    t, m, d, lo = cfg.train, cfg.model, cfg.data, cfg.loss

    def need(ok: bool, msg: str) -> None:
        if not ok:
            problems.append(msg)

    need(d.dataset in DATASETS, f"data.dataset={d.dataset!r} is unknown; choose one of: "
         f"{', '.join(DATASETS)}")
    need(d.dataset != "idx" or bool(d.data_dir), "data.dataset='idx' needs a folder of IDX "
         "files: add --data-dir DIR")
    need(d.limit is None or d.limit > 0, f"data.limit={d.limit} must be > 0 (or null for all)")
    need(m.name in MODELS, f"model.name={m.name!r} is unknown; choose one of: {', '.join(MODELS)}")
    if d.dataset in DATASETS and m.name in MODELS:
        toy_data, toy_model = d.dataset in TOY_DATASETS, m.name == "toy-mlp"
        need(toy_data == toy_model, f"model.name={m.name!r} does not fit data.dataset="
             f"{d.dataset!r}; use {'toy-mlp (or --preset toy)' if toy_data else 'mlp'}")
    need(0 < d.toy_samples <= MAX_TOY_SAMPLES, f"data.toy_samples={short(d.toy_samples)} must "
         f"be in 1..{MAX_TOY_SAMPLES:,}")
    need(m.init in INITS, f"model.init={short(m.init)} is unknown; choose one of: "
         f"{', '.join(INITS)}")
    need(0 < m.z_dim <= MAX_WIDTH, f"model.z_dim={short(m.z_dim)} must be in 1..{MAX_WIDTH:,}")
    need(0 < m.width <= MAX_WIDTH, f"model.width={short(m.width)} must be in 1..{MAX_WIDTH:,}")
    need(d.image_size is None or 0 < d.image_size <= MAX_IMAGE_SIZE,
         f"data.image_size={short(d.image_size)} must be in 1..{MAX_IMAGE_SIZE} (or null for "
         "the data set's default)")
    if m.name == "dcgan" and d.image_size is not None:
        need(d.image_size in (28, 32, 64), f"data.image_size={d.image_size} cannot be built "
             "by model dcgan; choose one of: 28, 32, 64")
    need(d.dataset != "folder" or bool(d.data_dir), "data.dataset='folder' needs a folder "
         "of images: use --data folder:PATH")
    need(t.n_critic >= 1, f"train.n_critic={t.n_critic} must be >= 1; use e.g. --n-critic 5")
    need(t.ema is None or 0.0 <= t.ema < 1.0,
         f"train.ema={t.ema} must be in [0, 1) (e.g. 0.999; 0 or null = off)")
    need(all(0 < h <= MAX_WIDTH for h in m.g_hidden + m.d_hidden)
         and len(m.g_hidden) <= MAX_LAYERS and len(m.d_hidden) <= MAX_LAYERS,
         f"model hidden widths must all be in 1..{MAX_WIDTH:,}, at most {MAX_LAYERS} layers "
         f"(g_hidden={short(m.g_hidden, 60)}, d_hidden={short(m.d_hidden, 60)})")
    need(0.0 <= m.dropout < 1.0, f"model.dropout={m.dropout} must be in [0, 1)")
    need(lo.game in GAMES, f"loss.game={lo.game!r} is unknown; choose one of: {', '.join(GAMES)}")
    need(0.0 < lo.real_label <= 1.0, f"loss.real_label={lo.real_label} must be in (0, 1]")
    need(t.epochs > 0, f"train.epochs={t.epochs} must be > 0; use e.g. --epochs 5")
    need(t.batch_size > 0, f"train.batch_size={t.batch_size} must be > 0; use e.g. "
         "--batch-size 64")
    for name in ("lr_d", "lr_g"):
        value = getattr(t, name)
        need(value > 0, f"train.{name}={value} must be > 0")
    for name in ("beta1_d", "beta1_g", "beta2"):
        value = getattr(t, name)
        need(0.0 <= value < 1.0, f"train.{name}={value} must be in [0, 1)")
    need(t.precision in PRECISIONS, f"train.precision={t.precision!r} is unknown; choose one "
         f"of: {', '.join(PRECISIONS)}")
    need(t.device == "auto" or t.device == "cpu" or t.device.startswith("cuda"),
         f"train.device={t.device!r} is unknown; use auto, cpu, cuda or cuda:N")
    cpus = os.cpu_count() or 1
    need(0 <= t.threads <= (cpus if machine else 1 << 16), f"train.threads={short(t.threads)} "
         f"must be in 0..{cpus} (this machine's CPUs; 0: PyTorch's default)")
    need(0 <= t.seed < 2**63, f"train.seed={short(t.seed)} must be in 0..2**63-1")
    need(t.eval_every is None or t.eval_every > 0,
         f"train.eval_every={t.eval_every} must be > 0 (or null for no evaluation)")
    need(t.eval_every is None or d.dataset not in TOY_DATASETS,
         f"train.eval_every={t.eval_every} needs image data (MNIST-like digits); toy set "
         f"{d.dataset!r} has its own metrics in metrics.jsonl: drop --eval-every")
    need(MIN_EVAL_N <= t.eval_n <= MAX_SAMPLES, f"train.eval_n={short(t.eval_n)} must be in "
         f"{MIN_EVAL_N}..{MAX_SAMPLES:,} (10000 for reported figures)")
    if d.dataset in TOY_DATASETS and 0 < t.batch_size <= d.toy_samples and t.n_critic > (
            d.toy_samples // t.batch_size):
        problems.append(f"train.n_critic={t.n_critic} is more than the "
                        f"{d.toy_samples // t.batch_size} iterations of an epoch, so G would "
                        "never step; lower --n-critic or --batch-size")
    if not problems and machine:  # sizes are sane one by one: now what they add up to
        need_bytes = memory_estimate(cfg)
        have = physical_memory()
        need(need_bytes <= have, f"this config needs about {need_bytes / 2**30:.1f} GiB "
             f"(model weights, gradients and Adam state, and the training data), more than this "
             f"machine's {have / 2**30:.1f} GiB; use smaller model.g_hidden / d_hidden / width "
             "/ z_dim, data.image_size or data.toy_samples")
    for name in ("sample_every", "checkpoint_every", "keep_checkpoints"):
        value = getattr(t, name)
        need(value > 0, f"train.{name}={value} must be > 0")
    need(t.nan_retries >= 0, f"train.nan_retries={t.nan_retries} must be >= 0")
    need(t.on_collapse in ON_COLLAPSE, f"train.on_collapse={t.on_collapse!r} is unknown; "
         f"choose one of: {', '.join(ON_COLLAPSE)}")
    if problems:
        raise ConfigError("invalid config: " + "; ".join(problems))
    return cfg


MAX_WIDTH = 1 << 20
"""Largest layer width, channel count or latent size accepted."""

MAX_LAYERS = 64
"""Most hidden layers of an MLP."""

MAX_IMAGE_SIZE = 1024
"""Largest image side accepted."""

MAX_TOY_SAMPLES = 100_000_000
"""Largest toy training set."""

MAX_SAMPLES = 200_000
"""Most samples one evaluation (or `gankit sample`) may ask for."""

MIN_EVAL_N = 6
"""Fewest samples an evaluation can score (its nearest-neighbour metrics need k + 1)."""


def physical_memory() -> int:
    """Bytes of RAM of this machine (a generous 1 TiB when the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def memory_estimate(cfg: Config) -> int:
    """Bytes a training run of `cfg` needs at least: parameters of G and D (built on the
    meta device, which allocates nothing) x 4 copies (weights, gradients, Adam's two
    moments) + EMA, and the training data as float32 (MNIST-like: 70,000 images)."""
    import torch

    from gankit.models import build_models

    d, m = cfg.data, cfg.model
    if d.dataset in TOY_DATASETS:
        shape: tuple[int, ...] = (1,) if d.dataset == "gaussian1d" else (2,)
        n_data = d.toy_samples
    else:
        side = d.image_size or (32 if d.dataset == "folder" else 28)
        shape = (3 if d.dataset == "folder" else 1, side, side)
        n_data = d.limit or 70_000
    try:
        with torch.device("meta"):
            g, dd = build_models(m.name, m.z_dim, shape, m.g_hidden, m.d_hidden, m.dropout,
                                 width=m.width, n_classes=10 if m.conditional else 0)
        params = sum(p.numel() for p in [*g.parameters(), *dd.parameters()])
    except (RuntimeError, ValueError, OverflowError, KeyError, IndexError):
        return 0  # a shape the model cannot take: build_models' own error names it later
    return params * 4 * (4 + (1 if cfg.train.ema else 0)) + n_data * math.prod(shape) * 4


TOY_DATASETS = ("gaussian1d", "ring2d", "grid2d")
"""The toy data sets of gankit.data.toy (kept in step with TOY_DATASETS there)."""

DATASETS = ("mnist", "idx", "folder", *TOY_DATASETS)
"""Data set names accepted in `data.dataset`."""

ON_COLLAPSE = ("warn", "stop", "off")
"""What `train.on_collapse` may say."""

PRECISIONS = ("fp32", "bf16", "auto")
"""Numeric precisions accepted in `train.precision`."""


def build_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Preset, then file, then overrides; validated.

    `preset` None: the file's `preset:` key, else `default`. A preset given both ways must
    agree (a ConfigError names both), so neither silently beats the other.
    """
    data = read_config_file(config_file) if config_file is not None else {}
    named = data.get("preset")
    if named is not None and preset is not None and str(named) != preset:
        raise ConfigError(f"--preset {short(preset, 40)} conflicts with preset: "
                          f"{short(named, 40)} in {config_file}; drop one of them")
    cfg = from_preset(preset if preset is not None else
                      (named if isinstance(named, str) else "default"))
    if data:
        apply_overrides(cfg, flatten(data))
    apply_overrides(cfg, overrides or {})
    return validate(cfg)


def dump_yaml(cfg: Config) -> str:
    """The config as readable YAML, sections in order."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=False)


def replace(cfg: Config, **sections: Any) -> Config:
    """A copy of cfg with some sections replaced (dataclasses.replace, deep-copied)."""
    return dataclasses.replace(Config.from_dict(cfg.to_dict()), **sections)
