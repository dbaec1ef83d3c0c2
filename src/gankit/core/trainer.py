"""The GAN training algorithm: `d_step`, `g_step`, one iteration, one epoch, one state dict.

The algorithm, per iteration (the notes' Example 2, Goodfellow et al. 2014, Algorithm 1):
  (1) update D: ascend log D(x) + log(1 - D(G(z))) on a batch of real images and a batch
      of fresh fakes (G is not differentiated);
  (2) update G: descend the chosen game's cost J(G) on fresh noise, through a frozen D
      (no D gradients are computed or kept).
An epoch is one pass over a fresh shuffle of the whole training set: floor(N / B)
iterations of B real images each; the last partial batch is dropped.

With `train.n_critic = k` (WGAN-GP's critic steps), an iteration is one D step on its own
real batch, so an epoch still consumes the data once (floor(N / B) iterations, the notes'
definition: real batches consumed) and G steps after every k-th iteration of the run (the
count runs across epochs, so no D step is lost at an epoch's end): floor(N / B) / k G
steps per epoch. A game with a gradient penalty (WGAN-GP) adds lambda * GP to D's cost.

With `train.instance_noise = sigma0`, every sample D sees (real and fake, in both steps) gets
N(0, sigma^2) noise from the run's noise stream, sigma decaying linearly from sigma0 to 0
over the run's iterations (`instance_sigma`). A packed D (`model.pack = m`, PacGAN) returns
one logit per m samples; the steps split its logits into the real and fake halves alike.

Conditional runs (`model.conditional`) feed labels: real images with their own labels,
fakes with labels drawn uniformly from the K classes, in D's and in G's steps. Every G is
called as g(z, labels) and every D as d(x, labels), labels None when unconditional.
With `train.ema`, an EMA of G's weights (gankit.core.ema) is updated after every G step and
used for samples, grids and `load_generator`; before it is used or saved, its BatchNorm
statistics are recomputed for its weights (gankit.core.sampling).

The trainer knows nothing about files: the run loop (gankit.runs) saves `state_dict()`.
Resume is exact on CPU: the shuffle of epoch e depends only on (seed, e), and the noise
generator's and the global RNG's (dropout) states are saved at each epoch boundary.

Speed (see benchmarks/throughput.py): the data stay one tensor on the device, batches are
index_select'ed from a per-epoch permutation, Adam is fused (one kernel per step), the
statistics stay on the device (no host sync in the hot loop), D's weight gradients are not
computed in G's step, and `train.compile` opts into torch.compile.

The runtime sits beside this module, each piece owning its state: device, precision and
Adam (gankit.runtime.device); the random draws, rank slices and RNG state
(gankit.runtime.noise); CUDA graphs replaying `iteration_step` (gankit.runtime.graphs);
DDP (gankit.runtime.distributed). With `dist` given, rank r trains on its rows of each
global batch, G and D are wrapped in DistributedDataParallel for their own steps, and G's
step runs through D's underlying module (frozen, so DDP of D expects no gradients then).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from gankit import __version__, seeds
from gankit.config import Config
from gankit.core import diagnostics
from gankit.core.ema import EMA
from gankit.core.networks import build_networks, data_sha256, load_networks
from gankit.core.sampling import Sampling
from gankit.core.state import STATE_FORMAT, check_fits, check_state
from gankit.errors import ConfigError
from gankit.losses import get_game, gradient_penalty
from gankit.runtime import device as rt
from gankit.runtime.distributed import DistInfo, mean_over_ranks
from gankit.runtime.graphs import IterationGraphs
from gankit.runtime.noise import NoiseSource
from gankit.stats import G_STAT_NAMES, STAT_NAMES


class Trainer(Sampling):
    """Owns G, D, their optimisers and the run's counters; trains on one data tensor.
    Samples come through `Sampling` (gankit.core.sampling): `sampler`, `sample`, `fixed_grid`."""

    def __init__(
        self, cfg: Config, data: Tensor, device: torch.device | str = "cpu",
        dist: DistInfo | None = None, labels: Tensor | None = None,
    ) -> None:
        """`data`: (N, *sample_shape) float32 training samples (images in [-1, 1]).

        `dist`: this process's rank in a distributed run (gankit.runtime.distributed), or None.
        `labels`: (N,) int64 class labels (needed when `cfg.model.conditional`).
        """
        self.cfg, self.device, self.dist, t = cfg, torch.device(device), dist, cfg.train
        world = dist.world_size if dist is not None else 1
        check_sizes(t.batch_size, world, data.shape[0])
        self.local_batch = t.batch_size // world
        """Images per iteration on this rank: the global batch / number of ranks."""
        self.precision = rt.resolve_precision(t.precision, self.device)
        """`fp32` or `bf16`: the config's precision with `auto` decided for this device."""
        rt.check_precision(self.precision, self.device)
        self.data = data.to(self.device)
        self._fingerprint: tuple[tuple[int, ...], str] | None = None
        self.game = get_game(cfg.loss.game)
        self.n_classes = num_classes(cfg, labels)
        self.labels = labels.to(self.device).long() if self.n_classes else None
        if self.labels is not None and self.labels.shape[0] != data.shape[0]:
            raise ConfigError(f"{self.labels.shape[0]} labels for {data.shape[0]} samples")

        graphs = (t.cuda_graphs and self.device.type == "cuda" and world == 1 and not t.compile
                  and not t.instance_noise)  # a graph would freeze the decaying sigma
        (self.g, self.d, self.opt_g, self.opt_d, self.g_run, self.d_run) = build_networks(
            cfg, tuple(data.shape[1:]), self.n_classes, self.device, world, graphs)
        """G, D, their Adams, and the modules the steps call: DDP wrappers in a distributed
        run (G's in G's step, D's in D's step), else G and D themselves."""
        self._adam_modes = [rt.adam_modes(o) for o in (self.opt_g, self.opt_d)]
        self.rng = NoiseSource(t.seed, self.device, dist)
        """Noise (z, fake labels, GP weights): this rank's rows of the global draws."""
        if self.rng.rank > 0:  # dropout: the global RNG, per rank
            torch.manual_seed(seeds.rank_seed(t.seed, self.rng.rank))
        self.ema = EMA(self.g, t.ema) if t.ema else None
        self._ema_calibrated_at: int | None = None
        self.graphs: IterationGraphs | None = None
        if graphs:
            self.attach_graphs()
        # Fixed latents: every sample grid of a run shows the same 100 z's.
        zgen = torch.Generator().manual_seed(seeds.fixed_latents_seed(t.seed))
        self.fixed_z = torch.randn(100, cfg.model.z_dim, generator=zgen)
        self.epoch = 0
        self.iteration = 0
        self.g_steps = 0
        self.elapsed = 0.0
        """Training seconds over all sessions of this run."""

    def attach_graphs(self, runner: type[IterationGraphs] = IterationGraphs) -> None:
        """Replay each iteration as a CUDA graph (gankit.runtime.graphs)."""
        def drop_grads() -> None:  # the captured backward allocates them in the graph's pool
            self.opt_d.zero_grad(set_to_none=True)
            self.opt_g.zero_grad(set_to_none=True)

        self.graphs = runner(self.iteration_step, self.rng, self.device, drop_grads)

    # ------------------------------------------------------------------ steps
    def _autocast(self):  # noqa: ANN202
        return rt.autocast(self.device, self.precision, cache=self.graphs is None)

    def noise(self, n: int) -> Tensor:
        """z ~ N(0, I), (n, Z): this rank's rows of the global draw."""
        return self.rng.normal(n, self.cfg.model.z_dim)

    def fake_labels(self, n: int) -> Tensor | None:
        """Class labels for n fakes, uniform over the K classes; None when unconditional."""
        return self.rng.classes(n, self.n_classes) if self.n_classes else None

    def d_step(self, real: Tensor, real_labels: Tensor | None = None) -> dict[str, Tensor]:
        """(1) Update D on real images and fresh fakes; G gets no gradient.

        `real_labels` (B,): the real images' classes (conditional runs only).
        """
        b = real.shape[0]
        assert (real_labels is not None) == (self.n_classes > 0), "real labels iff conditional"
        # (1a) fresh fakes (with uniformly drawn classes), G not differentiated
        with torch.no_grad(), self._autocast():
            z, fake_labels = self.noise(b), self.fake_labels(b)
            fake = self.g(z, fake_labels).to(real.dtype)
        real, fake = self.blur(real), self.blur(fake)  # (1a') instance noise, real's first
        # (1b) one D pass over real and fake (as the notes' Keras code does; D has no
        # BatchNorm, so the joint pass does not mix the two batches' statistics)
        labels = None if real_labels is None else torch.cat([real_labels, fake_labels])
        with self._autocast():
            logits = self.d_run(torch.cat([real, fake]), labels).float()  # (2B / pack,)
        real_logits, fake_logits = logits.chunk(2)  # a packed D: B / pack logits each
        # (1c) D's cost with one-sided label smoothing, then one Adam step
        loss = self.game.d_loss(real_logits, fake_logits, self.cfg.loss.real_label)
        if self.game.gradient_penalty > 0:
            # (1c') WGAN-GP: lambda * E (||grad D(x_hat)|| - 1)^2, eps ~ U[0,1] per sample
            # from the noise source; conditional: x_hat is scored with the real image's class.
            eps = self.rng.uniform(b, real.ndim, real.dtype)
            gp = gradient_penalty(lambda x: self.d(x, real_labels), real, fake, eps)
            loss = loss + self.game.gradient_penalty * gp
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        if self.game.probabilistic:
            d_real, d_fake = diagnostics.d_means(real_logits, fake_logits)
            return {"loss_d": loss.detach(), "d_real": d_real, "d_fake": d_fake,
                    "js_hat": diagnostics.js_hat_from_logits(real_logits, fake_logits)}
        # a score, not a probability: its mean, and no JS estimate
        return {"loss_d": loss.detach(), "d_real": real_logits.detach().mean(),
                "d_fake": fake_logits.detach().mean()}

    def g_step(self, batch_size: int, ema_weight: Tensor | None = None) -> dict[str, Tensor]:
        """(2) Update G through a frozen D on fresh noise; (2b) move the EMA of G.

        Counts nothing (`train_epoch` counts G steps and EMA updates). `ema_weight`: see
        EMA.blend."""
        self.d.requires_grad_(False)
        try:
            with self._autocast():
                z, y = self.noise(batch_size), self.fake_labels(batch_size)
                fake = self.blur(self.g_run(z, y))  # D sees them as in its own step
                fake_logits = self.d(fake, y).float()  # (B / pack,)
            loss = self.game.g_loss(fake_logits)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = diagnostics.grad_norm(self.g)
            self.opt_g.step()
        finally:
            self.d.requires_grad_(True)
        if self.ema is not None:  # (2b) the moving average of G's weights
            self.ema.blend(self.g, weight=ema_weight)
        dj = diagnostics.mean_abs_dj_dlogit(self.game, fake_logits)
        return {"loss_g": loss.detach(), "g_grad_norm": grad_norm, "dj_dl": dj}

    def blur(self, x: Tensor) -> Tensor:
        """x (B, ...) plus this iteration's instance noise, sigma * N(0, 1) from the noise
        stream (`instance_sigma`); x itself, and no draw, when sigma is 0."""
        t = self.cfg.train
        sigma = instance_sigma(t.instance_noise, self.iteration,
                               t.epochs * self.iterations_per_epoch())
        if sigma == 0:
            return x
        return x + sigma * self.rng.gaussian(x.shape[0], tuple(x.shape[1:]), x.dtype)

    def iteration_step(self, index: Tensor, with_g: bool,
                       ema_weight: Tensor | None = None) -> Tensor:
        """One iteration on the samples at `index` (this rank's rows of the batch): a D step,
        then a G step if `with_g`; returns the stats as a vector in STAT_NAMES order.
        Tensor work only (CUDA graphs replay it): it counts nothing."""
        real = self.data.index_select(0, index)
        real_labels = None if self.labels is None else self.labels.index_select(0, index)
        stats = self.d_step(real, real_labels)
        if with_g:
            stats.update(self.g_step(self.local_batch, ema_weight))
        # a zero for the stats this iteration has not (D-only iterations, score games' JS_hat)
        zero = real.new_zeros((), dtype=torch.float32) if len(stats) < len(STAT_NAMES) else None
        return torch.stack([stats[name].float() if name in stats else zero
                            for name in STAT_NAMES])

    def _iteration(self, index: Tensor, with_g: bool) -> Tensor:
        """`iteration_step`, eager or replayed as a CUDA graph; then the counters."""
        if self.graphs is None:
            stats = self.iteration_step(index, with_g)
        else:
            weight = 1.0 - self.ema.current_decay() if with_g and self.ema else None
            stats = self.graphs.step(index, with_g, weight,
                                     key=(self.data.data_ptr(), self.data.shape[0]))
            if self.graphs.failed:
                self.graphs = None
        if with_g:
            self.g_steps += 1
            if self.ema is not None:
                self.ema.updates += 1
        return stats

    # ------------------------------------------------------------------ epochs
    def iterations_per_epoch(self) -> int:
        """floor(N / B): the notes' definition."""
        return self.data.shape[0] // self.cfg.train.batch_size

    def train_epoch(
        self, progress: Callable[[int, dict[str, float] | None], None] | None = None
    ) -> dict[str, Any]:
        """Run the next epoch; returns its record for the metrics log.

        `progress(iterations_done, running_means_or_None)` is called after every iteration.
        """
        epoch, b, lb = self.epoch + 1, self.cfg.train.batch_size, self.local_batch
        lo, n_iter = self.rng.rank * lb, self.iterations_per_epoch()
        perm = epoch_permutation(self.data.shape[0], self.cfg.train.seed, epoch,
                                 self.cfg.train.real_batches).to(self.device)
        sums = torch.zeros(len(STAT_NAMES), device=self.device)
        is_g = torch.tensor([name in G_STAT_NAMES for name in STAT_NAMES], device=self.device)
        g_done = 0
        self.g.train()
        self.d.train()
        start = time.perf_counter()

        def averages(d_done: int, totals: Tensor = sums) -> Tensor:
            return totals / torch.where(is_g, float(max(g_done, 1)), float(d_done))

        for i in range(n_iter):
            with_g = (self.iteration + 1) % self.cfg.train.n_critic == 0
            sums += self._iteration(perm[i * b + lo : i * b + lo + lb], with_g)
            g_done += with_g
            self.iteration += 1
            if progress is not None:  # reading the sums syncs: only every 25 iterations
                done = (i + 1) % 25 == 0 or i + 1 == n_iter
                progress(i + 1, dict(zip(STAT_NAMES, averages(i + 1).tolist(), strict=True))
                         if done else None)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start
        self.elapsed += seconds
        self.epoch = epoch
        means = averages(max(n_iter, 1), mean_over_ranks(self.dist, sums)).tolist()
        record: dict[str, Any] = {"epoch": epoch, "iteration": self.iteration,
                                  "g_steps": self.g_steps, **dict(zip(STAT_NAMES, means,
                                                                      strict=True))}
        if not self.game.probabilistic:  # d_real / d_fake are mean scores; no JS estimate
            del record["js_hat"]
            record["d_output"] = "score"
        record.update({"seconds": seconds,
                       "images_per_s": n_iter * b / seconds if seconds > 0 else float("nan"),
                       "elapsed": self.elapsed})
        return record

    # ------------------------------------------------------------------ state
    def reseed(self, seed: int) -> None:
        """Fresh random streams: the noise generator (alike on every rank) and the global RNG
        for dropout (seed, plus an offset per rank other than 0)."""
        self.rng.reseed(seed)

    def data_fingerprint(self) -> str:
        """`data_sha256` of the training data (cached): a resumed run must train on the
        same data, wherever it is read from."""
        key = (self.data.data_ptr(), *self.data.shape)
        if self._fingerprint is None or self._fingerprint[0] != key:
            self._fingerprint = (key, data_sha256(self.data, self.labels))
        return self._fingerprint[1]

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume or to sample: one dict of tensors and plain data.
        Distributed: a collective (every rank calls it together, for the RNG states)."""
        rng = self.rng.state_dict()
        extra: dict[str, Any] = {}
        if self.ema is not None:
            _ = self.sampler  # BatchNorm statistics recomputed for the saved EMA weights
            extra["ema"] = self.ema.state_dict()
        return {
            **extra,
            "format": STATE_FORMAT, "gankit_version": __version__,
            "config": self.cfg.to_dict(), "sample_shape": list(self.data.shape[1:]),
            "data_sha256": self.data_fingerprint(), "n_classes": self.n_classes,
            "g_steps": self.g_steps,
            "g": self.g.state_dict(), "d": self.d.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "epoch": self.epoch, "iteration": self.iteration, "elapsed": self.elapsed,
            "fixed_z": self.fixed_z.clone(), "rng": rng,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from `state_dict()` (exact resume); mismatches are errors."""
        check_state(state)
        if self.graphs is not None:  # they hold the optimiser state about to be replaced
            self.graphs.reset()
        check_fits(state, list(self.data.shape[1:]), self.n_classes)
        load_networks(state, self.g, self.d, self.opt_g, self.opt_d, self.ema)
        self._ema_calibrated_at = None
        self.epoch = int(state["epoch"])
        self.iteration = int(state["iteration"])
        self.g_steps = int(state.get("g_steps", self.iteration))
        self.elapsed = float(state.get("elapsed", 0.0))
        self.fixed_z = state["fixed_z"].clone()
        self.rng.load_state_dict(state["rng"], self.iteration)
        # Fused or not is this trainer's choice, not the checkpoint's.
        for opt, modes in zip((self.opt_g, self.opt_d), self._adam_modes, strict=True):
            rt.restore_adam_modes(opt, modes, self.device)


def epoch_permutation(n: int, seed: int, epoch: int, real_batches: str = "shuffle") -> Tensor:
    """The (n,) indices whose consecutive slices are epoch `epoch`'s real batches: a function
    of (seed, epoch) only, so resume is exact. `shuffle`: a permutation (each image once);
    `replacement`: n indices drawn uniformly with replacement (the notes' Keras loop draws
    every batch with np.random.randint(0, N, B))."""
    gen = torch.Generator().manual_seed(seeds.epoch_seed(seed, epoch))
    if real_batches == "replacement":
        return torch.randint(0, n, (n,), generator=gen)
    return torch.randperm(n, generator=gen)


def instance_sigma(sigma0: float, iteration: int, total: int) -> float:
    """Instance noise's sigma at 0-based `iteration` of a run of `total` iterations: sigma0
    at the first, decaying linearly to 0 at the end (and after it)."""
    if sigma0 <= 0 or total <= 0:
        return 0.0
    return sigma0 * max(0.0, 1.0 - iteration / total)


def check_n_critic(n_critic: int, iterations: int) -> None:
    """G steps after every n_critic-th iteration: an epoch must hold at least one."""
    if n_critic > iterations:
        raise ConfigError(f"train.n_critic={n_critic} is more than the {iterations} "
                          f"iterations of an epoch, so G would never step; use --n-critic "
                          f"{min(5, iterations)} or a smaller --batch-size")


def check_sizes(batch_size: int, world: int, n: int) -> None:
    """The global batch must split over the ranks and fit in the data set."""
    if batch_size % world:
        raise ConfigError(f"batch size {batch_size} does not split over {world} processes; "
                          f"use a multiple of {world}, e.g. --batch-size "
                          f"{max(1, batch_size // world) * world}")
    if batch_size > n:
        raise ConfigError(f"batch size {batch_size} is larger than the data set ({n} "
                          f"samples); use --batch-size {min(256, n)} or less")


def num_classes(cfg: Config, labels: Tensor | None) -> int:
    """K for a conditional run (max label + 1), 0 for an unconditional one."""
    if not cfg.model.conditional:
        return 0
    if labels is None or labels.numel() == 0:
        raise ConfigError(f"model.conditional needs class labels, and data set "
                          f"{cfg.data.dataset!r} has none here; drop --conditional (a folder "
                          "has labels when its images sit in one subfolder per class)")
    if int(labels.min()) < 0:
        raise ConfigError(f"class labels must be >= 0, got {int(labels.min())}")
    return int(labels.max()) + 1
