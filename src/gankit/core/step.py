"""The GAN step, written once: D's step, G's step, instance noise and the epoch's statistics.

Both trainers run this code: `Trainer` (one run, gankit.core.trainer) and `BatchedToyGANs`
(S toy runs stacked into one model, gankit.runs.batched). They differ only in what they hand
it. Every tensor of a batched trainer has a leading runs axis (S, ...), so its batch axis is
`batch_dim = 1` where a single run's is 0; the costs are mapped over the runs (`per_run`:
torch.vmap), the runs' costs are summed before backward (no run's weights enter another's
cost, so each gradient is the run's own) and every statistic is a mean per run, (S,).

The algorithm, per iteration (the notes' Example 2, Goodfellow et al. 2014, Algorithm 1):
  (1) update D: ascend log D(x) + log(1 - D(G(z))) on a batch of real samples and a batch of
      fresh fakes (G is not differentiated), plus the game's regulariser (`Game.penalty`,
      e.g. WGAN-GP's gradient penalty);
  (2) update G: descend the game's cost J(G) on fresh noise through a frozen D (no D
      gradients are computed or kept); (2b) move the EMA of G's weights, if any.
With instance noise (train.instance_noise = sigma0) every sample D sees, real and fake, in
both steps, gets sigma * N(0, 1) from the run's noise stream, sigma decaying linearly to 0
(`instance_sigma`); the draws come in a fixed order (real's, then fake's). With
train.lr_end < 1 both learning rates fall linearly over the run (`lr_factor`), set as each
iteration is drawn.

A subclass of `GANStep` sets the attributes listed in the class; the runtime (device,
precision, noise source, CUDA graphs, DDP) stays with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import Tensor

from gankit.config import Config
from gankit.core import diagnostics
from gankit.core.losses import Game
from gankit.runtime import device as rt
from gankit.stats import G_STAT_NAMES, STAT_NAMES

Progress = Callable[[int, "dict[str, float] | None"], None]
"""progress(iterations_done, running_means_or_None), called after every iteration."""


class GANStep:
    """D's step, G's step and an epoch's iterations over the attributes a trainer sets."""

    cfg: Config
    game: Game
    g: Any
    """G, called g(z, labels) -> samples; its `parameters()` are what G's Adam steps."""
    d: Any
    """D, called d(x, labels) -> logits (*runs, B / pack); frozen in G's step."""
    g_run: Any
    """What G's step calls to train G: a DDP wrapper in a distributed run, else `g`."""
    d_run: Any
    """What D's step calls to train D: a DDP wrapper in a distributed run, else `d`."""
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    rng: Any
    """The noise source (gankit.runtime.noise.NoiseSource's draws: normal, classes,
    gaussian, uniform; rank), its draws with the leading runs axis when batched."""
    ema: Any = None
    """An EMA of G's weights (gankit.core.ema), moved after every G step; None = none."""
    graphs: Any = None
    """CUDA graphs replaying `iteration_step` (gankit.runtime.graphs); None = eager."""
    n_classes: int = 0
    data: Tensor
    """(N, *sample_shape) training samples on the device."""
    labels: Tensor | None = None
    """(N,) class labels (conditional runs), else None."""
    local_batch: int
    """Real samples per D step (this rank's rows of the batch)."""
    device: torch.device
    precision: str = "fp32"
    batch_dim: int = 0
    """0 for one run; 1 when a leading axis holds the S runs of a batched trainer."""
    iteration: int = 0
    g_steps: int = 0

    # ------------------------------------------------------------------ helpers
    def _autocast(self) -> AbstractContextManager:
        return rt.autocast(self.device, self.precision, cache=self.graphs is None)

    def per_run(self, fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
        """`fn` of one run's tensors, applied to every run's (torch.vmap when batched)."""
        return fn if self.batch_dim == 0 else torch.vmap(fn)

    def noise(self, n: int) -> Tensor:
        """z ~ N(0, I), (*runs, n, Z): this rank's rows of the global draw."""
        return self.rng.normal(n, self.cfg.model.z_dim)

    def fake_labels(self, n: int) -> Tensor | None:
        """Class labels for n fakes, uniform over the K classes; None when unconditional."""
        return self.rng.classes(n, self.n_classes) if self.n_classes else None

    def iterations_per_epoch(self) -> int:
        """floor(N / B): the notes' definition."""
        return self.data.shape[0] // self.cfg.train.batch_size

    def planned_iterations(self) -> int:
        """train.epochs x `iterations_per_epoch`: the run the schedules (instance noise's
        sigma, the learning rates) decay over."""
        return self.cfg.train.epochs * self.iterations_per_epoch()

    def set_learning_rates(self) -> None:
        """Set both optimisers' learning rates for this iteration (`lr_factor` of lr_d and
        lr_g); nothing when train.lr_end is 1 (constant rates)."""
        t = self.cfg.train
        if t.lr_end == 1.0:
            return
        f = lr_factor(t.lr_end, self.iteration, self.planned_iterations())
        for opt, lr in ((self.opt_d, t.lr_d), (self.opt_g, t.lr_g)):
            for group in opt.param_groups:
                group["lr"] = lr * f

    def add_instance_noise(self, x: Tensor) -> Tensor:
        """x (*runs, B, ...) plus this iteration's instance noise, sigma * N(0, 1) from the
        noise stream (`instance_sigma`); x itself, and no draw, when sigma is 0."""
        sigma = instance_sigma(self.cfg.train.instance_noise, self.iteration,
                               self.planned_iterations())
        if sigma == 0:
            return x
        bd = self.batch_dim
        return x + sigma * self.rng.gaussian(x.shape[bd], tuple(x.shape[bd + 1:]), x.dtype)

    # ------------------------------------------------------------------ steps
    def d_step(self, real: Tensor, real_labels: Tensor | None = None) -> dict[str, Tensor]:
        """(1) Update D on real samples (*runs, B, ...) and fresh fakes; G gets no gradient.

        `real_labels` (B,): the real images' classes (conditional runs only).
        Returns D's statistics, each a mean per run: () or (S,).
        """
        bd = self.batch_dim
        b = real.shape[bd]
        assert (real_labels is not None) == (self.n_classes > 0), "real labels iff conditional"
        # (1a) fresh fakes (with uniformly drawn classes), G not differentiated
        with torch.no_grad(), self._autocast():
            z, fake_labels = self.noise(b), self.fake_labels(b)
            fake = self.g(z, fake_labels).to(real.dtype)
        real, fake = self.add_instance_noise(real), self.add_instance_noise(fake)  # real's first
        # (1b) one D pass over real and fake (as the notes' Keras code does; D has no
        # BatchNorm, so the joint pass does not mix the two batches' statistics)
        labels = None if real_labels is None else torch.cat([real_labels, fake_labels])
        with self._autocast():
            logits = self.d_run(torch.cat([real, fake], dim=bd), labels).float()
        real_logits, fake_logits = logits.chunk(2, dim=bd)  # (*runs, B / pack) each
        # (1c) D's cost (one-sided label smoothing: target real_label) and the game's
        # regulariser; x_hat of a conditional run is scored with the real image's class
        target = self.cfg.loss.real_label
        loss = self.per_run(lambda r, f: self.game.d_loss(r, f, target))(real_logits,
                                                                         fake_logits)
        if self.game.penalty is not None:
            loss = loss + self.game.penalty(
                lambda x: self.d(x, real_labels), real, fake,
                lambda: self.rng.uniform(b, real.ndim - bd, real.dtype), bd)
        # (1d) one Adam step (the runs' costs summed: each run's gradient is its own)
        self.opt_d.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.opt_d.step()
        stats = {"loss_d": loss.detach()}
        if self.game.probabilistic:
            stats["d_real"], stats["d_fake"] = diagnostics.d_means(real_logits, fake_logits, bd)
            with torch.no_grad():
                stats["js_hat"] = diagnostics.js_hat(
                    self.per_run(diagnostics.plain_d_cost)(real_logits, fake_logits))
        else:  # a score, not a probability: its mean, and no JS estimate
            stats["d_real"] = real_logits.detach().mean(bd)
            stats["d_fake"] = fake_logits.detach().mean(bd)
        return stats

    def g_step(self, batch_size: int, ema_weight: Tensor | None = None) -> dict[str, Tensor]:
        """(2) Update G through a frozen D on fresh noise; (2c) move the EMA of G.

        Counts nothing (`train_epoch` counts G steps and EMA updates). `ema_weight`: see
        EMA.blend. Returns G's statistics, each per run: () or (S,).
        """
        bd = self.batch_dim
        self.d.requires_grad_(False)
        try:
            # (2a) fresh fakes, seen by D as in its own step
            with self._autocast():
                z, y = self.noise(batch_size), self.fake_labels(batch_size)
                fake = self.add_instance_noise(self.g_run(z, y))
                fake_logits = self.d(fake, y).float()  # (*runs, B / pack)
            # (2b) the game's cost J(G), one Adam step
            loss = self.game.g_loss(fake_logits, bd)
            self.opt_g.zero_grad(set_to_none=True)
            loss.sum().backward()
            grad_norm = diagnostics.grad_norm(self.g.parameters(), bd)
            self.opt_g.step()
        finally:
            self.d.requires_grad_(True)
        if self.ema is not None:  # (2c) the moving average of G's weights
            self.ema.blend(self.g, weight=ema_weight)
        dj = diagnostics.mean_abs_dj_dlogit(self.game, fake_logits, bd)
        return {"loss_g": loss.detach(), "g_grad_norm": grad_norm, "dj_dl": dj}

    def iteration_step(self, index: Tensor, with_g: bool,
                       ema_weight: Tensor | None = None) -> Tensor:
        """One iteration on the samples at `index` ((*runs, B): this rank's rows of each
        run's batch): a D step, then a G step if `with_g`; returns the statistics in
        STAT_NAMES order, (*runs, len(STAT_NAMES)). Tensor work only (CUDA graphs replay
        it): it counts nothing."""
        rows = index.reshape(-1)
        real = self.data.index_select(0, rows).view(*index.shape, *self.data.shape[1:])
        real_labels = None if self.labels is None else self.labels.index_select(0, rows)
        stats = self.d_step(real, real_labels)
        if with_g:
            stats.update(self.g_step(self.local_batch, ema_weight))
        # a zero for the stats this iteration has not (D-only iterations, score games' JS_hat)
        zero = (real.new_zeros(index.shape[:-1], dtype=torch.float32)
                if len(stats) < len(STAT_NAMES) else None)
        return torch.stack([stats[name].float() if name in stats else zero
                            for name in STAT_NAMES], dim=self.batch_dim)

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
    def iterations(self, perm: Tensor) -> Iterator[tuple[Tensor, bool]]:
        """One epoch's iterations over `perm` ((*runs, N) sample indices, consecutive slices
        of B the batches), drawn one at a time: (this rank's batch indices (*runs, B_local),
        whether G steps after D's step). G steps after every n_critic-th iteration of the run,
        read from `self.iteration` when an item is drawn: the caller steps and counts
        (`run_epoch`; the lab, which may pause between an iteration's D and G steps)."""
        b, lb = self.cfg.train.batch_size, self.local_batch
        lo = self.rng.rank * lb
        for i in range(self.iterations_per_epoch()):
            with_g = (self.iteration + 1) % self.cfg.train.n_critic == 0
            self.set_learning_rates()
            yield perm[..., i * b + lo : i * b + lo + lb], with_g

    def run_epoch(self, perm: Tensor, progress: Progress | None = None
                  ) -> tuple[Tensor, float]:
        """The iterations of one epoch over `perm` (`iterations`), each stepped and counted.

        Returns (the statistics' sums (*runs, len(STAT_NAMES)), the G steps taken);
        `means_of` turns them into the epoch's means. `progress`: see `Progress`.
        """
        n_iter = self.iterations_per_epoch()
        sums = torch.zeros(*perm.shape[:-1], len(STAT_NAMES), device=self.device)
        g_done = 0
        for i, (index, with_g) in enumerate(self.iterations(perm)):
            sums += self._iteration(index, with_g)
            g_done += with_g
            self.iteration += 1
            if progress is not None:  # reading the sums syncs: only every 25 iterations
                done = (i + 1) % 25 == 0 or i + 1 == n_iter
                progress(i + 1, dict(zip(STAT_NAMES, means_of(sums, i + 1, g_done).tolist(),
                                         strict=True)) if done else None)
        return sums, g_done


def means_of(sums: Tensor, d_steps: int, g_steps: int) -> Tensor:
    """An epoch's mean statistics from their sums (*runs, len(STAT_NAMES)): G's over the G
    steps, the others over the D steps (iterations)."""
    is_g = torch.tensor([name in G_STAT_NAMES for name in STAT_NAMES], device=sums.device)
    return sums / torch.where(is_g, float(max(g_steps, 1)), float(max(d_steps, 1)))


def epoch_record(epoch: int, iteration: int, g_steps: int, means: list[float],
                 probabilistic: bool, seconds: float, images: int, elapsed: float,
                 ) -> dict[str, Any]:
    """One epoch's record for metrics.jsonl: the counters, the mean statistics (STAT_NAMES
    order; a score game logs mean scores, `d_output: score`, and no JS estimate) and the
    timings (`images` trained on in `seconds`; `elapsed` seconds over the whole run)."""
    record: dict[str, Any] = {"epoch": epoch, "iteration": iteration, "g_steps": g_steps,
                              **dict(zip(STAT_NAMES, means, strict=True))}
    if not probabilistic:  # d_real / d_fake are mean scores; no JS estimate
        del record["js_hat"]
        record["d_output"] = "score"
    record.update({"seconds": seconds,
                   "images_per_s": images / seconds if seconds > 0 else float("nan"),
                   "elapsed": elapsed})
    return record


def instance_sigma(sigma0: float, iteration: int, total: int) -> float:
    """Instance noise's sigma at 0-based `iteration` of a run of `total` iterations: sigma0
    at the first, decaying linearly to 0 at the end (and after it)."""
    if sigma0 <= 0 or total <= 0:
        return 0.0
    return sigma0 * max(0.0, 1.0 - iteration / total)


def scheduled(cfg: Config) -> bool:
    """Whether the run's instance noise or learning rates follow a schedule over its
    train.epochs (a CUDA graph would freeze them; a lab session cannot train beyond them)."""
    return cfg.train.instance_noise > 0 or cfg.train.lr_end != 1.0


def lr_factor(end: float, iteration: int, total: int) -> float:
    """The learning rates' factor at 0-based `iteration` of a run of `total` iterations: 1 at
    the first, falling linearly to `end` at the end (and after it), as `instance_sigma` does."""
    if end == 1.0 or total <= 0:
        return 1.0
    return 1.0 - (1.0 - end) * min(iteration / total, 1.0)
