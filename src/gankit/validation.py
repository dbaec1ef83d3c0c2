"""Checking a config up front: every value against its range and the others, sizes against
this machine (threads, memory), all problems reported in one ConfigError.
"""

from __future__ import annotations

import math
import os
import re
from typing import TYPE_CHECKING

from gankit import datasets
from gankit.errors import ConfigError, short

if TYPE_CHECKING:  # the config module imports this one, not the other way round
    from gankit.config import Config

ON_COLLAPSE = ("warn", "stop", "off")
"""What `train.on_collapse` may say."""

REAL_BATCHES = ("shuffle", "replacement")
"""How `train.real_batches` draws an epoch's real batches."""

PRECISIONS = ("fp32", "bf16", "auto")
"""Numeric precisions accepted in `train.precision`."""


DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d{1,3})?")
"""The devices gankit runs on (train.device, sample/eval --device); meta, mps, xla... are not."""


def known_device(name: object) -> bool:
    """Whether `name` is a device gankit runs on: auto, cpu, cuda or cuda:N."""
    return isinstance(name, str) and DEVICE_PATTERN.fullmatch(name) is not None


def validate(cfg: Config, machine: bool = True) -> Config:
    """Check every value; raise one ConfigError listing all problems.

    `machine` False skips the checks against this machine (threads, memory for training),
    e.g. for a checkpoint's config that is only sampled from.
    """
    from gankit.core.losses import GAMES
    from gankit.core.models import INITS, MODELS, check_pack

    problems: list[str] = []
    t, m, data, lo = cfg.train, cfg.model, cfg.data, cfg.loss
    spec = datasets.DATASETS.get(data.dataset) if isinstance(data.dataset, str) else None
    toy_data = spec is not None and spec.is_toy

    def need(ok: bool, msg: str) -> None:
        if not ok:
            problems.append(msg)

    need(spec is not None, f"data.dataset={data.dataset!r} is unknown; choose one of: "
         f"{', '.join(datasets.DATASETS)}")
    need(spec is None or not spec.needs_dir or bool(data.data_dir),
         f"data.dataset={data.dataset!r} needs {spec and spec.needs_dir}")
    need(data.limit is None or data.limit > 0,
         f"data.limit={data.limit} must be > 0 (or null for all)")
    need(m.name in MODELS, f"model.name={m.name!r} is unknown; choose one of: {', '.join(MODELS)}")
    if spec is not None and m.name in MODELS:
        toy_model = m.name == "toy-mlp"
        need(toy_data == toy_model, f"model.name={m.name!r} does not fit data.dataset="
             f"{data.dataset!r}; use {'toy-mlp (or --preset toy)' if toy_data else 'mlp'}")
    need(0 < data.toy_samples <= MAX_TOY_SAMPLES, f"data.toy_samples="
         f"{short(data.toy_samples)} must be in 1..{MAX_TOY_SAMPLES:,}")
    need(m.init in INITS, f"model.init={short(m.init)} is unknown; choose one of: "
         f"{', '.join(INITS)}")
    need(0 < m.z_dim <= MAX_WIDTH, f"model.z_dim={short(m.z_dim)} must be in 1..{MAX_WIDTH:,}")
    need(0 < m.width <= MAX_WIDTH, f"model.width={short(m.width)} must be in 1..{MAX_WIDTH:,}")
    need(data.image_size is None or 0 < data.image_size <= MAX_IMAGE_SIZE,
         f"data.image_size={short(data.image_size)} must be in 1..{MAX_IMAGE_SIZE} (or null for "
         "the data set's default)")
    if m.name == "dcgan" and data.image_size is not None:
        need(data.image_size in (28, 32, 64), f"data.image_size={data.image_size} cannot be built "
             "by model dcgan; choose one of: 28, 32, 64")
    need(t.n_critic >= 1, f"train.n_critic={t.n_critic} must be >= 1; use e.g. --n-critic 5")
    need(t.ema is None or 0.0 <= t.ema < 1.0,
         f"train.ema={t.ema} must be in [0, 1) (e.g. 0.999; 0 or null = off)")
    need(2.0 <= t.ema_warmup <= 1e6, f"train.ema_warmup={short(t.ema_warmup)} must be in "
         "2..1000000 (10: TensorFlow's warm-up; smaller averages more of the run)")
    need(all(0 < h <= MAX_WIDTH for h in m.g_hidden + m.d_hidden)
         and len(m.g_hidden) <= MAX_LAYERS and len(m.d_hidden) <= MAX_LAYERS,
         f"model hidden widths must all be in 1..{MAX_WIDTH:,}, at most {MAX_LAYERS} layers "
         f"(g_hidden={short(m.g_hidden, 60)}, d_hidden={short(m.d_hidden, 60)})")
    need(0.0 <= m.dropout < 1.0, f"model.dropout={m.dropout} must be in [0, 1)")
    try:
        check_pack(m.pack, m.name if m.name in MODELS else MODELS[0], m.conditional)
    except ConfigError as err:
        problems.append(str(err))
    if m.pack > 1:
        need(t.batch_size % m.pack == 0, f"train.batch_size={t.batch_size} is not a multiple "
             f"of model.pack={m.pack}; use a batch size divisible by {m.pack}")
        need(lo.game not in GAMES or GAMES[lo.game].penalty is None,
             f"model.pack={m.pack} is not combined with {lo.game}'s gradient penalty here; use "
             "another game or model.pack=1")
    need(lo.game in GAMES, f"loss.game={lo.game!r} is unknown; choose one of: {', '.join(GAMES)}")
    need(0.0 < lo.real_label <= 1.0, f"loss.real_label={lo.real_label} must be in (0, 1]")
    need(t.epochs > 0, f"train.epochs={t.epochs} must be > 0; use e.g. --epochs 5")
    need(t.batch_size > 0, f"train.batch_size={t.batch_size} must be > 0; use e.g. "
         "--batch-size 64")
    for name in ("lr_d", "lr_g"):
        value = getattr(t, name)
        need(value > 0, f"train.{name}={value} must be > 0")
    need(0.0 <= t.lr_end <= 1.0, f"train.lr_end={short(t.lr_end)} must be in 0..1 (the "
         "learning rates' factor at the run's end; 1: constant)")
    for name in ("beta1_d", "beta1_g", "beta2"):
        value = getattr(t, name)
        need(0.0 <= value < 1.0, f"train.{name}={value} must be in [0, 1)")
    need(0.0 < t.adam_eps <= 1.0, f"train.adam_eps={t.adam_eps} must be in (0, 1]; use "
         "1e-8 (PyTorch) or 1e-7 (Keras)")
    need(0.0 <= t.instance_noise <= MAX_INSTANCE_NOISE, f"train.instance_noise="
         f"{short(t.instance_noise)} must be in 0..{MAX_INSTANCE_NOISE:g} (0: off; e.g. 1.0 "
         "for the toy grid)")
    need(t.real_batches in REAL_BATCHES, f"train.real_batches={short(t.real_batches)} is "
         f"unknown; choose one of: {', '.join(REAL_BATCHES)}")
    need(t.precision in PRECISIONS, f"train.precision={t.precision!r} is unknown; choose one "
         f"of: {', '.join(PRECISIONS)}")
    need(known_device(t.device),
         f"train.device={short(t.device, 40)} is unknown; use auto, cpu, cuda or cuda:N")
    cpus = os.cpu_count() or 1
    need(0 <= t.threads <= (cpus if machine else 1 << 16), f"train.threads={short(t.threads)} "
         f"must be in 0..{cpus} (this machine's CPUs; 0: PyTorch's default)")
    need(0 <= t.seed < 2**63, f"train.seed={short(t.seed)} must be in 0..2**63-1")
    need(t.eval_every is None or t.eval_every > 0,
         f"train.eval_every={t.eval_every} must be > 0 (or null for no evaluation)")
    need(t.eval_every is None or not toy_data,
         f"train.eval_every={t.eval_every} needs image data (MNIST-like digits); toy set "
         f"{data.dataset!r} has its own metrics in metrics.jsonl: drop --eval-every")
    need(MIN_EVAL_N <= t.eval_n <= MAX_SAMPLES, f"train.eval_n={short(t.eval_n)} must be in "
         f"{MIN_EVAL_N}..{MAX_SAMPLES:,} (10000 for reported figures)")
    if toy_data and 0 < t.batch_size <= data.toy_samples and t.n_critic > (
            data.toy_samples // t.batch_size):
        problems.append(f"train.n_critic={t.n_critic} is more than the "
                        f"{data.toy_samples // t.batch_size} iterations of an epoch, so G would "
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


MAX_INSTANCE_NOISE = 1e3
"""Largest instance-noise sigma_0 accepted (in data units)."""

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

    from gankit.core.models import build_models

    m, spec = cfg.model, datasets.get(cfg.data.dataset)
    shape = spec.sample_shape(cfg.data)
    n_data = spec.size(cfg.data)
    try:
        with torch.device("meta"):
            g, d = build_models(m, shape, 10 if m.conditional else 0)
        params = sum(p.numel() for p in [*g.parameters(), *d.parameters()])
    except (ConfigError, RuntimeError, ValueError, OverflowError, KeyError, IndexError):
        return 0  # a shape the model cannot take: build_models' own error names it later
    return params * 4 * (4 + (1 if cfg.train.ema else 0)) + n_data * math.prod(shape) * 4
