"""Batched toy training: S toy GANs of one game and config, one per seed, trained as one model.

This module owns `BatchedToyGANs`, the trainer `gankit compare` uses on the toy data sets, and
`train_seeds`, which runs it to the configs' epochs. It runs the serial trainer's algorithm,
gankit.core.step's `GANStep` (D's step, G's step, instance noise, the statistics), over S
seeds at once; what it adds is the stacking:

- each seed's G and D are built as the serial trainer builds them
  (gankit.core.networks.seeded_models), so each seed starts from the serial run's weights;
  then their Linear layers are stacked, weights (S, in, out) and biases (S, 1, out), and a
  layer is one batched matmul (torch.baddbmm) of (S, B, in) inputs (`StackedMLP`);
- each seed keeps the serial run's random streams: its own noise generator
  (gankit.runtime.noise, seeded alike; `StackedNoise` stacks their draws) and its own epoch
  shuffles (gankit.core.trainer.epoch_permutation);
- every tensor has a leading seeds axis (`batch_dim = 1`): the costs are mapped over the
  seeds (torch.vmap), the sum of the per-seed costs is backpropagated, so each seed's
  gradient is its own, and one Adam over the stacked tensors is S independent Adams (Adam is
  elementwise);
- a packed D (model.pack) packs each seed's batch as the serial D does.

Every epoch gives one record per seed with the keys of a serial run's metrics.jsonl: the
statistics of gankit.stats, the counters, timings and the toy metrics of gankit.runs.toy
(modes covered and high-quality share computed batched). `seconds` and `elapsed` are the
batched epoch's wall time divided by S.

The serial path has, and this one has not: dropout, EMA of G, bf16, conditional models,
checkpoints, snapshots, health alarms and the non-finite guard's retries (a seed whose
numbers go non-finite keeps training on as NaN and is reported as non-finite; the other
seeds are unaffected). `check_batchable` names what stops a config, with the fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gankit.config import Config
from gankit.core.layers import pack_samples
from gankit.core.losses import get_game
from gankit.core.networks import seeded_models
from gankit.core.step import GANStep, epoch_record, means_of
from gankit.core.trainer import check_n_critic, check_sizes, epoch_permutations
from gankit.data import load_dataset
from gankit.data.toy import ToyDistribution, get_toy
from gankit.datasets import is_toy
from gankit.errors import ConfigError
from gankit.metrics.toy import MIN_FRACTION, N_SIGMA, js_divergence_hist
from gankit.runs.toy import eval_latents, reference_sample
from gankit.runtime import device as rt
from gankit.runtime.noise import NoiseSource

SEED_ONLY = "train.seed"
"""The one config key in which the batched runs may differ."""

_SERIAL = "or compare with --serial (batched=False)"


def check_batchable(cfgs: Sequence[Config]) -> None:
    """Raise a one-line ConfigError when `cfgs` cannot train as one batched model."""
    if not cfgs:
        raise ConfigError("batched training got no runs; give at least one seed, e.g. --seeds 3")
    first = _without_seed(cfgs[0])
    for cfg in cfgs[1:]:
        if _without_seed(cfg) != first:
            raise ConfigError(f"batched runs must differ only in {SEED_ONLY}; run them one by "
                              f"one {_SERIAL}")
    seeds = [c.train.seed for c in cfgs]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"batched runs repeat a seed ({seeds}); give each run its own "
                          "train.seed")
    c = cfgs[0]
    m, t = c.model, c.train
    if not is_toy(c.data.dataset):
        raise ConfigError(f"data.dataset={c.data.dataset!r} is not a toy set; batched "
                          f"training is for ring2d, grid2d and gaussian1d: {_SERIAL}")
    checks = [
        (m.name != "toy-mlp", f"model.name={m.name!r}: batched training needs toy-mlp; use "
                              f"--set model.name=toy-mlp {_SERIAL}"),
        (m.dropout > 0, f"model.dropout={m.dropout:g}: batched training has no dropout; use "
                        f"--set model.dropout=0 {_SERIAL}"),
        (bool(t.ema), f"train.ema={t.ema}: batched training keeps no EMA of G; drop it "
                      f"(--set train.ema=null) {_SERIAL}"),
        (m.conditional, f"model.conditional=true: toy sets have no classes; drop --conditional "
                        f"{_SERIAL}"),
    ]
    for bad, message in checks:
        if bad:
            raise ConfigError(message)
    device = rt.resolve_device(t.device)
    if rt.resolve_precision(t.precision, device) != "fp32":
        raise ConfigError(f"train.precision={t.precision!r} resolves to bf16 here; batched "
                          f"training runs in fp32: use --precision fp32 {_SERIAL}")


def _without_seed(cfg: Config) -> dict[str, Any]:
    d = cfg.to_dict()
    d["train"] = {k: v for k, v in d["train"].items() if k != "seed"}
    return d


class StackedMLP:
    """The Linear layers of S same-shaped toy MLPs, stacked: weights (S, in, out), biases
    (S, 1, out); ReLU between layers, none after the last (gankit.core.models' toy nets).
    `scores`: a D, whose one output per sample is returned without its last axis."""

    def __init__(self, nets: Sequence[nn.Module], device: torch.device,
                 scores: bool = False) -> None:
        self.scores = scores
        self.pack = getattr(nets[0], "pack", 1)
        """A packed D's (gankit.core.layers.pack_samples) samples per input; 1 for G."""
        per_net = [_linears(net) for net in nets]
        self.weights = [torch.stack([layers[k].weight.detach().t() for layers in per_net])
                        .contiguous().to(device).requires_grad_(True)
                        for k in range(len(per_net[0]))]
        self.biases = [torch.stack([layers[k].bias.detach()[None] for layers in per_net])
                       .contiguous().to(device).requires_grad_(True)
                       for k in range(len(per_net[0]))]

    def parameters(self) -> list[Tensor]:
        """Weights then biases, layer by layer."""
        return [p for pair in zip(self.weights, self.biases, strict=True) for p in pair]

    def requires_grad_(self, flag: bool) -> None:
        for p in self.parameters():
            p.requires_grad_(flag)

    def __call__(self, x: Tensor, labels: None = None) -> Tensor:
        """(S, B, in) -> (S, B, out); a D: (S, B, V) -> (S, B / pack). No labels (toy sets
        have no classes): the argument is the serial nets' signature."""
        assert labels is None, "toy MLPs are not conditional"
        if self.pack > 1:  # each seed's batch packed as the serial D packs it
            s, v = x.shape[0], x.shape[2]
            x = pack_samples(x.reshape(-1, v), self.pack).reshape(s, -1, self.pack * v)
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if k < last:
                x = torch.relu(x)
        return x.squeeze(-1) if self.scores else x

    def layer(self, k: int, seed_index: int) -> tuple[Tensor, Tensor]:
        """Layer k of one seed as nn.Linear holds it: (weight (out, in), bias (out,))."""
        return (self.weights[k][seed_index].detach().t(),
                self.biases[k][seed_index, 0].detach())


def _linears(net: nn.Module) -> list[nn.Linear]:
    """The Linear layers of a toy MLP, checking that it is Linear / ReLU only."""
    allowed = (nn.Linear, nn.ReLU, nn.Sequential, type(net))
    odd = [type(m).__name__ for m in net.modules() if not isinstance(m, allowed)]
    assert not odd, f"not a plain toy MLP: {odd}"
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


class StackedNoise:
    """The S seeds' noise sources (gankit.runtime.noise.NoiseSource, each seeded as its serial
    run's) as one: every draw is each seed's own draw, stacked on a leading axis (S, ...)."""

    rank = 0
    """A single process (the rows of a batch start at 0)."""

    def __init__(self, seeds: Sequence[int], device: torch.device) -> None:
        self.sources = [NoiseSource(seed, device) for seed in seeds]

    def normal(self, n: int, dim: int) -> Tensor:
        """(S, n, dim): each seed's z ~ N(0, I)."""
        return torch.stack([r.normal(n, dim) for r in self.sources])

    def gaussian(self, n: int, rest: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """(S, n, *rest): each seed's N(0, 1) instance noise."""
        return torch.stack([r.gaussian(n, rest, dtype) for r in self.sources])

    def uniform(self, n: int, ndim: int, dtype: torch.dtype) -> Tensor:
        """(S, n, 1, ..., 1): each seed's U[0, 1) per sample (`ndim` dimensions after S)."""
        return torch.stack([r.uniform(n, ndim, dtype) for r in self.sources])


class BatchedToyGANs(GANStep):
    """S toy GANs (one per config, the configs alike but for train.seed) trained at once.

    The steps are gankit.core.step's (`d_step(real)` on (S, B, V) real samples,
    `g_step(batch_size)`, `iteration_step(index, with_g)` on (S, B) indices), every
    statistic one per seed, (S,); `train_epoch()` returns one record per seed."""

    batch_dim = 1

    def __init__(self, cfgs: Sequence[Config], data: Tensor | None = None) -> None:
        """`data`: the (N, V) training set; None loads it as the serial run does."""
        check_batchable(cfgs)
        self.cfgs, cfg = list(cfgs), cfgs[0]
        self.cfg, t = cfg, cfg.train
        self.device = rt.resolve_device(t.device)
        if data is None:
            data = load_dataset(cfg.data).samples
        check_sizes(t.batch_size, 1, data.shape[0])
        self.data = data.to(self.device)
        self.local_batch = t.batch_size
        self.seeds = [c.train.seed for c in self.cfgs]
        self.game = get_game(cfg.loss.game)
        nets = [seeded_models(c, tuple(data.shape[1:])) for c in self.cfgs]
        self.g = StackedMLP([g for g, _ in nets], self.device)
        self.d = StackedMLP([d for _, d in nets], self.device, scores=True)
        self.g_run, self.d_run = self.g, self.d
        self.opt_g = rt.make_adam(self.g.parameters(), t.lr_g, (t.beta1_g, t.beta2),
                                  eps=t.adam_eps)
        self.opt_d = rt.make_adam(self.d.parameters(), t.lr_d, (t.beta1_d, t.beta2),
                                  eps=t.adam_eps)
        self.rng = StackedNoise(self.seeds, self.device)
        check_n_critic(t.n_critic, self.iterations_per_epoch())
        self.epoch = self.iteration = self.g_steps = 0
        self.elapsed = 0.0
        """Wall seconds of training, all seeds together."""

    @property
    def size(self) -> int:
        """S, the number of seeds."""
        return len(self.seeds)

    def train_epoch(self) -> list[dict[str, Any]]:
        """Run the next epoch for every seed; one record per seed (serial keys, no toy metrics)."""
        epoch, n_iter = self.epoch + 1, self.iterations_per_epoch()
        perms = epoch_permutations(self.data.shape[0], self.seeds, epoch,
                                   self.cfg.train.real_batches).to(self.device)  # (S, N)
        start = time.perf_counter()
        sums, g_done = self.run_epoch(perms)
        means = means_of(sums, n_iter, g_done).tolist()
        seconds = (time.perf_counter() - start) / self.size
        self.elapsed += seconds * self.size
        self.epoch = epoch
        return [epoch_record(epoch, self.iteration, self.g_steps, row,
                             self.game.probabilistic, seconds,
                             n_iter * self.cfg.train.batch_size, self.elapsed / self.size)
                for row in means]

    @torch.no_grad()
    def generate(self, z: Tensor) -> Tensor:
        """Every seed's G on the same latents z (n, Z): (S, n, V) float32 on the CPU."""
        return self.g(z.to(self.device).expand(self.size, -1, -1)).float().cpu()


def toy_metrics_batched(fake: Tensor, dist: ToyDistribution,
                        real: Tensor | None = None) -> list[dict[str, float]]:
    """gankit.runs.toy.toy_epoch_metrics for every seed's samples `fake` (S, n, V) at once:
    modes_covered, num_modes, hq_share (and js_hist against `real` for 1-D data)."""
    s, n = fake.shape[0], fake.shape[1]
    finite = torch.isfinite(fake).flatten(1).all(1).tolist()
    x = torch.nan_to_num(fake.to(torch.float64), nan=0.0, posinf=0.0, neginf=0.0)
    centres = dist.centres.to(torch.float64).expand(s, -1, -1)
    nearest_d, nearest = torch.cdist(x, centres).min(dim=2)  # (S, n)
    good = nearest_d <= N_SIGMA * dist.std
    counts = torch.zeros(s, dist.num_modes, dtype=torch.float64).scatter_add_(
        1, nearest, good.to(torch.float64))
    covered = (counts >= MIN_FRACTION * n / dist.num_modes).sum(1).tolist()
    hq = good.to(torch.float64).mean(1).tolist()
    if dist.dim == 1 and real is None:
        real = reference_sample(dist, n)
    out = []
    for k in range(s):
        if not finite[k]:
            m: dict[str, float] = {"modes_covered": 0, "num_modes": dist.num_modes,
                                   "hq_share": 0.0}
            if dist.dim == 1:
                m["js_hist"] = float("nan")
        else:
            m = {"modes_covered": int(covered[k]), "num_modes": dist.num_modes,
                 "hq_share": float(hq[k])}
            if dist.dim == 1:
                assert real is not None
                m["js_hist"] = js_divergence_hist(real.numpy(), fake[k].numpy())
        out.append(m)
    return out


def train_seeds(cfgs: Sequence[Config], log: Callable[[str], None] = print,
                ) -> tuple[list[list[dict[str, Any]]], np.ndarray]:
    """Train the runs `cfgs` (alike but for train.seed) as one batched model to their epochs.

    Returns (per seed its metrics records, epoch by epoch, as a serial run logs them; every
    seed's final samples on the toy evaluation latents, (S, n, V)).
    """
    trainer = BatchedToyGANs(cfgs)
    t = trainer.cfg.train
    if trainer.device.type == "cpu":  # as a serial toy run: one thread unless train.threads
        torch.set_num_threads(t.threads or 1)  # (2 threads on 2 busy cores: 7-27x slower)
    dist = get_toy(trainer.cfg.data.dataset)
    z = eval_latents(trainer.cfg.model.z_dim)
    real = reference_sample(dist, z.shape[0])
    records: list[list[dict[str, Any]]] = [[] for _ in cfgs]
    while trainer.epoch < t.epochs:  # validation keeps epochs >= 1: `fake` is always set
        recs = trainer.train_epoch()
        fake = trainer.generate(z)
        for run, rec, toy in zip(records, recs, toy_metrics_batched(fake, dist, real),
                                 strict=True):
            run.append({**rec, **toy})
        if trainer.epoch == 1 or trainer.epoch % t.sample_every == 0 or trainer.epoch == t.epochs:
            modes = [r[-1]["modes_covered"] for r in records]
            log(f"{trainer.cfg.loss.game}, {trainer.size} seeds batched: epoch {trainer.epoch}/"
                f"{t.epochs}, modes covered {min(modes)}..{max(modes)} of {dist.num_modes}")
    return records, fake.numpy()
