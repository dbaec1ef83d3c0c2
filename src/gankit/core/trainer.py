"""The serial trainer: one run's G, D, optimisers, counters, epochs and state dict.

The algorithm itself (D's step, G's step, instance noise, the epoch's statistics) is
gankit.core.step's `GANStep`, which this trainer and the batched toy trainer
(gankit.runs.batched) share; read it there. This module adds what one run has:

An epoch is one pass over a fresh shuffle of the whole training set: floor(N / B)
iterations of B real images each; the last partial batch is dropped. With
`train.n_critic = k` (WGAN-GP's critic steps), an iteration is one D step on its own real
batch, so an epoch still consumes the data once, and G steps after every k-th iteration of
the run (the count runs across epochs, so no D step is lost at an epoch's end).

Conditional runs (`model.conditional`) feed labels: real images with their own labels,
fakes with labels drawn uniformly from the K classes, in D's and in G's steps. With
`train.ema`, an EMA of G's weights (gankit.core.ema) is updated after every G step and used
for samples, grids and `load_generator`; before it is used or saved, its BatchNorm
statistics are recomputed for its weights (gankit.core.sampling). A packed D (`model.pack
= m`, PacGAN) returns one logit per m samples.

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
from typing import Any

import torch
from torch import Tensor

from gankit import __version__, seeds
from gankit.config import Config
from gankit.core.ema import EMA
from gankit.core.losses import get_game
from gankit.core.networks import build_networks, data_sha256, load_networks
from gankit.core.sampling import Sampling
from gankit.core.state import STATE_FORMAT, check_fits, validate_state
from gankit.core.step import GANStep, Progress, epoch_record, means_of, scheduled
from gankit.errors import ConfigError
from gankit.runtime import device as rt
from gankit.runtime.distributed import DistInfo, mean_over_ranks
from gankit.runtime.graphs import IterationGraphs
from gankit.runtime.noise import NoiseSource


class Trainer(GANStep, Sampling):
    """Owns G, D, their optimisers and the run's counters; trains on one data tensor.
    The steps are gankit.core.step's (`d_step`, `g_step`, `iteration_step`, `run_epoch`);
    samples come through `Sampling` (gankit.core.sampling): `sampler`, `sample`,
    `fixed_grid`."""

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
                  and not scheduled(cfg))  # a graph would freeze the schedules
        (self.g, self.d, self.opt_g, self.opt_d, self.g_run, self.d_run) = build_networks(
            cfg, tuple(data.shape[1:]), self.n_classes, self.device, world, graphs)
        """G, D, their Adams, and the modules the steps call: DDP wrappers in a distributed
        run (G's in G's step, D's in D's step), else G and D themselves."""
        self._adam_modes = [rt.adam_modes(o) for o in (self.opt_g, self.opt_d)]
        self.rng = NoiseSource(t.seed, self.device, dist)
        """Noise (z, fake labels, GP weights): this rank's rows of the global draws."""
        if self.rng.rank > 0:  # dropout: the global RNG, per rank
            torch.manual_seed(seeds.rank_seed(t.seed, self.rng.rank))
        self.ema = EMA(self.g, t.ema, t.ema_warmup) if t.ema else None
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

    def train_epoch(self, progress: Progress | None = None) -> dict[str, Any]:
        """Run the next epoch; returns its record for the metrics log.

        `progress(iterations_done, running_means_or_None)` is called after every iteration.
        """
        epoch, n_iter = self.epoch + 1, self.iterations_per_epoch()
        perm = epoch_permutation(self.data.shape[0], self.cfg.train.seed, epoch,
                                 self.cfg.train.real_batches).to(self.device)
        self.g.train()
        self.d.train()
        start = time.perf_counter()
        sums, g_done = self.run_epoch(perm, progress)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start
        self.elapsed += seconds
        self.epoch = epoch
        means = means_of(mean_over_ranks(self.dist, sums), n_iter, g_done).tolist()
        return epoch_record(epoch, self.iteration, self.g_steps, means, self.game.probabilistic,
                            seconds, n_iter * self.cfg.train.batch_size, self.elapsed)

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
        """Restore a state from `state_dict()` (exact resume); mismatches are errors. A state
        read by gankit.runs.checkpoint was checked there; any other is checked here."""
        validate_state(state)
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


def epoch_permutations(n: int, seeds: list[int], epoch: int,
                       real_batches: str = "shuffle") -> Tensor:
    """`epoch_permutation` of each seed, stacked: (S, n), for runs trained side by side."""
    return torch.stack([epoch_permutation(n, s, epoch, real_batches) for s in seeds])


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
