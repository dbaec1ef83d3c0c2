"""Batched toy training: S toy GANs of one game and config, one per seed, trained as one model.

This module owns `BatchedToyGANs`, the trainer `gankit compare` uses on the toy data sets, and
`train_seeds`, which runs it to the configs' epochs. It does for S seeds at once what
gankit.core.trainer does for one run:

- each seed's G and D are built as the serial trainer builds them (torch.manual_seed(seed),
  then gankit.models.build_models), so each seed starts from the serial run's weights; then
  their Linear layers are stacked, weights (S, in, out) and biases (S, 1, out), and a layer
  is one batched matmul (torch.baddbmm) of (S, B, in) inputs;
- each seed keeps the serial run's random streams: its own noise generator
  (gankit.runtime.noise, seeded alike) and its own epoch shuffles
  (gankit.core.trainer.epoch_permutation);
- the costs are gankit.losses' pure functions of logits, mapped over the seeds (torch.vmap);
  the sum of the per-seed costs is backpropagated, so each seed's gradient is its own (no
  seed's weights enter another seed's cost), and one Adam over the stacked tensors is S
  independent Adams (Adam is elementwise);
- instance noise (train.instance_noise) comes from each seed's own stream in the serial
  run's order, and a packed D (model.pack) packs each seed's batch as the serial D does;
- the iteration semantics are the serial trainer's: an epoch is floor(N / B) iterations on a
  fresh shuffle, one D step each, and a G step after every n_critic-th iteration of the run.

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
from gankit.core.diagnostics import LOG4
from gankit.core.trainer import check_n_critic, check_sizes, epoch_permutation, instance_sigma
from gankit.data import load_dataset
from gankit.data.toy import ToyDistribution, get_toy, is_toy
from gankit.errors import ConfigError
from gankit.layers import pack_samples
from gankit.losses import d_loss_bce, get_game
from gankit.metrics.toy import MIN_FRACTION, N_SIGMA, js_divergence_hist
from gankit.models import build_models
from gankit.runs.toy import eval_latents, reference_sample
from gankit.runtime import device as rt
from gankit.runtime.noise import NoiseSource
from gankit.stats import G_STAT_NAMES, STAT_NAMES

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
    (S, 1, out); ReLU between layers, none after the last (gankit.models' toy nets)."""

    def __init__(self, nets: Sequence[nn.Module], device: torch.device) -> None:
        self.pack = getattr(nets[0], "pack", 1)
        """A packed D's (gankit.layers.pack_samples) samples per input; 1 for G."""
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

    def __call__(self, x: Tensor) -> Tensor:
        """(S, B, in) -> (S, B, out); a packed D: (S, B, V) -> (S, B / pack, out)."""
        if self.pack > 1:  # each seed's batch packed as the serial D packs it
            s, v = x.shape[0], x.shape[2]
            x = pack_samples(x.reshape(-1, v), self.pack).reshape(s, -1, self.pack * v)
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(b, x, w)
            if k < last:
                x = torch.relu(x)
        return x

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


class BatchedToyGANs:
    """S toy GANs (one per config, the configs alike but for train.seed) trained at once."""

    def __init__(self, cfgs: Sequence[Config], data: Tensor | None = None) -> None:
        """`data`: the (N, V) training set; None loads it as the serial run does."""
        check_batchable(cfgs)
        self.cfgs, cfg = list(cfgs), cfgs[0]
        self.cfg, m, t = cfg, cfg.model, cfg.train
        self.device = rt.resolve_device(t.device)
        if data is None:
            data = load_dataset(cfg.data).samples
        check_sizes(t.batch_size, 1, data.shape[0])
        self.data = data.to(self.device)
        self.seeds = [c.train.seed for c in self.cfgs]
        self.game = get_game(cfg.loss.game)
        gs, ds = [], []
        for seed in self.seeds:  # as gankit.core.networks.build_networks builds a run's nets
            torch.manual_seed(seed)
            g, d = build_models(m.name, m.z_dim, tuple(data.shape[1:]), m.g_hidden, m.d_hidden,
                                m.dropout, width=m.width, n_classes=0, init=m.init,
                                pack=m.pack)
            gs.append(g)
            ds.append(d)
        self.g, self.d = StackedMLP(gs, self.device), StackedMLP(ds, self.device)
        self.opt_g = rt.make_adam(self.g.parameters(), t.lr_g, (t.beta1_g, t.beta2),
                                  eps=t.adam_eps)
        self.opt_d = rt.make_adam(self.d.parameters(), t.lr_d, (t.beta1_d, t.beta2),
                                  eps=t.adam_eps)
        self.rngs = [NoiseSource(seed, self.device) for seed in self.seeds]
        check_n_critic(t.n_critic, self.iterations_per_epoch())
        self.epoch = self.iteration = self.g_steps = 0
        self.elapsed = 0.0
        """Wall seconds of training, all seeds together."""

    @property
    def size(self) -> int:
        """S, the number of seeds."""
        return len(self.seeds)

    def iterations_per_epoch(self) -> int:
        """floor(N / B), as the serial trainer."""
        return self.data.shape[0] // self.cfg.train.batch_size

    def noise(self, n: int) -> Tensor:
        """z ~ N(0, I) for every seed from its own generator: (S, n, Z)."""
        return torch.stack([r.normal(n, self.cfg.model.z_dim) for r in self.rngs])

    def blur(self, x: Tensor) -> Tensor:
        """Every seed's x (S, n, ...) plus its instance noise, drawn from its own generator as
        the serial trainer's `blur` draws it; x itself, and no draw, when sigma is 0."""
        t = self.cfg.train
        sigma = instance_sigma(t.instance_noise, self.iteration,
                               t.epochs * self.iterations_per_epoch())
        if sigma == 0:
            return x
        rest = tuple(x.shape[2:])
        return x + sigma * torch.stack([r.gaussian(x.shape[1], rest, x.dtype)
                                        for r in self.rngs])

    # ------------------------------------------------------------------ steps
    def d_step(self, real: Tensor) -> dict[str, Tensor]:
        """(1) Update every seed's D on its real batch (S, B, V) and fresh fakes; stats (S,)."""
        b = real.shape[1]
        with torch.no_grad():
            fake = self.g(self.noise(b))
        real, fake = self.blur(real), self.blur(fake)  # instance noise, real's first
        logits = self.d(torch.cat([real, fake], dim=1)).squeeze(-1)  # (S, 2B / pack)
        real_logits, fake_logits = logits.chunk(2, dim=1)
        target = self.cfg.loss.real_label
        loss = torch.vmap(lambda r, f: self.game.d_loss(r, f, target))(real_logits, fake_logits)
        if self.game.gradient_penalty > 0:  # WGAN-GP, eps drawn per seed as the serial run
            eps = torch.stack([r.uniform(b, real.ndim - 1, real.dtype) for r in self.rngs])
            loss = loss + self.game.gradient_penalty * self._penalty(real, fake, eps)
        self.opt_d.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.opt_d.step()
        real_logits, fake_logits = real_logits.detach(), fake_logits.detach()
        if not self.game.probabilistic:
            return {"loss_d": loss.detach(), "d_real": real_logits.mean(1),
                    "d_fake": fake_logits.mean(1)}
        with torch.no_grad():
            plain = torch.vmap(d_loss_bce)(real_logits, fake_logits)
        return {"loss_d": loss.detach(), "d_real": torch.sigmoid(real_logits).mean(1),
                "d_fake": torch.sigmoid(fake_logits).mean(1), "js_hat": (LOG4 - plain) / 2.0}

    def _penalty(self, real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
        """Per seed E (||grad_x D(x_hat)|| - 1)^2 (gankit.losses.gradient_penalty): (S,)."""
        x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.d(x_hat).sum(), x_hat, create_graph=True)
        return ((grad.norm(2, dim=-1) - 1.0) ** 2).mean(1)

    def g_step(self, batch_size: int) -> dict[str, Tensor]:
        """(2) Update every seed's G through its frozen D on fresh noise; stats (S,)."""
        self.d.requires_grad_(False)
        try:
            fake = self.blur(self.g(self.noise(batch_size)))
            fake_logits = self.d(fake).squeeze(-1)  # (S, B / pack)
            loss = self.game.g_cost(fake_logits).mean(1)  # (S,)
            self.opt_g.zero_grad(set_to_none=True)
            loss.sum().backward()
            with torch.no_grad():
                sq = sum(p.grad.pow(2).flatten(1).sum(1) for p in self.g.parameters())
            self.opt_g.step()
        finally:
            self.d.requires_grad_(True)
        dj = self.game.dj_dlogit(fake_logits.detach()).abs().mean(1)
        return {"loss_g": loss.detach(), "g_grad_norm": torch.sqrt(sq), "dj_dl": dj}

    def iteration_step(self, index: Tensor, with_g: bool) -> Tensor:
        """One iteration on the samples at `index` (S, B): stats (S, len(STAT_NAMES))."""
        stats = self.d_step(self.data[index])
        if with_g:
            stats.update(self.g_step(self.cfg.train.batch_size))
        zero = torch.zeros(self.size, device=self.device)
        return torch.stack([stats.get(name, zero).float() for name in STAT_NAMES], dim=1)

    # ------------------------------------------------------------------ epochs
    def train_epoch(self) -> list[dict[str, Any]]:
        """Run the next epoch for every seed; one record per seed (serial keys, no toy metrics)."""
        epoch, b, n_iter = self.epoch + 1, self.cfg.train.batch_size, self.iterations_per_epoch()
        perms = torch.stack([epoch_permutation(self.data.shape[0], s, epoch,
                                               self.cfg.train.real_batches)
                             for s in self.seeds]).to(self.device)  # (S, N)
        sums = torch.zeros(self.size, len(STAT_NAMES), device=self.device)
        g_done = 0
        start = time.perf_counter()
        for i in range(n_iter):
            with_g = (self.iteration + 1) % self.cfg.train.n_critic == 0
            sums += self.iteration_step(perms[:, i * b:(i + 1) * b], with_g)
            g_done += with_g
            self.iteration += 1
        self.g_steps += g_done
        is_g = torch.tensor([n in G_STAT_NAMES for n in STAT_NAMES], device=self.device)
        means = (sums / torch.where(is_g, float(max(g_done, 1)), float(max(n_iter, 1)))).tolist()
        seconds = (time.perf_counter() - start) / self.size
        self.elapsed += seconds * self.size
        self.epoch = epoch
        records = []
        for row in means:
            record: dict[str, Any] = {"epoch": epoch, "iteration": self.iteration,
                                      "g_steps": self.g_steps,
                                      **dict(zip(STAT_NAMES, row, strict=True))}
            if not self.game.probabilistic:
                del record["js_hat"]
                record["d_output"] = "score"
            record.update({"seconds": seconds,
                           "images_per_s": n_iter * b / seconds if seconds > 0 else float("nan"),
                           "elapsed": self.elapsed / self.size})
            records.append(record)
        return records

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
