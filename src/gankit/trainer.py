"""The GAN training loop: `d_step`, `g_step`, `fit`, and one state dict for the whole run.

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

Conditional runs (`model.conditional`) feed labels: real images with their own labels,
fakes with labels drawn uniformly from the K classes, in D's and in G's steps.
With `train.ema`, an EMA of G's weights (gankit.ema) is updated after every G step and
used for samples, grids and `load_generator`; before it is used or saved, its BatchNorm
statistics are recomputed for its weights (EMA_CALIBRATION_BATCHES batches of fresh noise
from a generator seeded by (seed, EMA updates), so the global RNG and resume are untouched).

The trainer knows nothing about files except through `state_dict()` / `load_state_dict()`
and the optional run folder hooks in `fit`. Resume is exact on CPU: the shuffle of epoch e
depends only on (seed, e), and the noise generator's and the global RNG's (dropout) states
are saved at each epoch boundary.

Speed (see benchmarks/throughput.py): the data stay one tensor on the device, batches are
index_select'ed from a per-epoch permutation, Adam is fused (one kernel per step), the
statistics stay on the device (no host sync in the hot loop), D's weight gradients are not
computed in G's step, and `train.compile` opts into torch.compile.

Distributed (gankit.distributed): with `dist` given, rank r trains on its rows of each
global batch, G and D are wrapped in DistributedDataParallel for their own steps, and G's
step runs through D's underlying module (frozen, so DDP of D expects no gradients then).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit import __version__, diagnostics
from gankit.config import Config
from gankit.cudagraphs import Draw, IterationGraphs
from gankit.distributed import DistInfo, all_gather_objects, mean_over_ranks
from gankit.ema import EMA
from gankit.errors import CheckpointError, ConfigError
from gankit.losses import get_game, gradient_penalty
from gankit.models import build_models, class_grid_labels

STATE_FORMAT = 1
"""Version of the checkpoint layout; bumped when it changes incompatibly."""

ADAM_MODE_KEYS = ("fused", "foreach", "capturable")
"""Adam flags that are this trainer's choice, not a loaded checkpoint's."""

STAT_NAMES = ("loss_d", "loss_g", "d_real", "d_fake", "js_hat", "g_grad_norm", "dj_dl")
"""Per-epoch averages written to the metrics log, besides timing."""

EMA_CALIBRATION_BATCHES = 32
"""Batches (of train.batch_size latents) that recompute the EMA G's BatchNorm statistics."""

G_STAT_NAMES = ("loss_g", "g_grad_norm", "dj_dl")
"""The stats of G steps (averaged over G steps; the others over D steps)."""


def resolve_device(name: str) -> torch.device:
    """`auto` -> CUDA when available else CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but PyTorch sees no CUDA GPU here; "
                          "use --device cpu or --device auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r} is not a valid device; use auto, cpu or cuda") from None


NOISE_SEED_OFFSET = 104_729
"""The noise generator is seeded seed + this (the fixed sample latents use seed + 7919)."""


def make_adam(
    params: Any, lr: float, betas: tuple[float, float], capturable: bool = False
) -> torch.optim.Optimizer:
    """Adam, fused into one kernel per step where this torch and device support it;
    `capturable` (state on the device, no host syncs) for CUDA-graph capture."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True, capturable=capturable)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas, capturable=capturable)


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 matmuls in hardware (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(name: str, device: torch.device) -> str:
    """`auto` -> `bf16` on GPUs with bf16 and CPUs with native bf16 matmuls, else `fp32`.

    Without hardware support bf16 is emulated and several times slower than fp32.
    """
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu_has_native_bf16() else "fp32"


def epoch_permutation(n: int, seed: int, epoch: int) -> Tensor:
    """The shuffle of epoch `epoch`: a function of (seed, epoch) only, so resume is exact."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


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


class Trainer:
    """Owns G, D, their optimisers and the run's counters; trains on one data tensor."""

    def __init__(
        self, cfg: Config, data: Tensor, device: torch.device | str = "cpu",
        dist: DistInfo | None = None, labels: Tensor | None = None,
    ) -> None:
        """`data`: (N, *sample_shape) float32 training samples (images in [-1, 1]).

        `dist`: this process's rank in a distributed run (gankit.distributed), or None.
        `labels`: (N,) int64 class labels (needed when `cfg.model.conditional`).
        """
        self.cfg = cfg
        self.device = torch.device(device)
        self.dist = dist
        t = cfg.train
        self.world = dist.world_size if dist is not None else 1
        self.rank = dist.rank if dist is not None else 0
        if t.batch_size % self.world:
            raise ConfigError(f"batch size {t.batch_size} does not split over {self.world} "
                              f"processes; use a multiple of {self.world}, e.g. --batch-size "
                              f"{max(1, t.batch_size // self.world) * self.world}")
        self.local_batch = t.batch_size // self.world
        """Images per iteration on this rank: the global batch / number of ranks."""
        self.precision = resolve_precision(t.precision, self.device)
        """`fp32` or `bf16`: the config's precision with `auto` decided for this device."""
        if (self.precision == "bf16" and self.device.type == "cuda"
                and not torch.cuda.is_bf16_supported()):
            raise ConfigError(f"precision bf16 needs a GPU with bf16 (Ampere or newer); "
                              f"{torch.cuda.get_device_name(self.device)} has none: use "
                              "--precision fp32")
        if t.batch_size > data.shape[0]:
            raise ConfigError(
                f"batch size {t.batch_size} is larger than the data set ({data.shape[0]} "
                f"samples); use --batch-size {min(256, data.shape[0])} or less"
            )
        self.data = data.to(self.device)
        self._fingerprint: tuple[tuple[int, ...], str] | None = None
        self.game = get_game(cfg.loss.game)
        self.n_classes = num_classes(cfg, labels)
        self.labels = labels.to(self.device).long() if self.n_classes else None
        if self.labels is not None and self.labels.shape[0] != data.shape[0]:
            raise ConfigError(f"{self.labels.shape[0]} labels for {data.shape[0]} samples")

        torch.manual_seed(t.seed)
        self.g, self.d = build_models(
            cfg.model.name, cfg.model.z_dim, tuple(data.shape[1:]),
            cfg.model.g_hidden, cfg.model.d_hidden, cfg.model.dropout,
            width=cfg.model.width, n_classes=self.n_classes,
        )
        self.g.to(self.device)
        self.d.to(self.device)
        use_graphs = (t.cuda_graphs and self.device.type == "cuda" and self.world == 1
                      and not t.compile)
        self.opt_g = make_adam(self.g.parameters(), t.lr_g, (t.beta1_g, t.beta2), use_graphs)
        self.opt_d = make_adam(self.d.parameters(), t.lr_d, (t.beta1_d, t.beta2), use_graphs)
        self._adam_modes = [{k: o.param_groups[0].get(k) for k in ADAM_MODE_KEYS}
                            for o in (self.opt_g, self.opt_d)]
        if getattr(t, "compile", False):
            self.g.compile()
            self.d.compile()
        # The modules the steps call: DDP wrappers in a distributed run (G's in G's step,
        # D's in D's step), else the modules themselves. G's step calls D's own module.
        self.g_run: nn.Module = self.g
        self.d_run: nn.Module = self.d
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device] if self.device.type == "cuda" else None
            self.g_run = DDP(self.g, device_ids=ids, gradient_as_bucket_view=True)
            self.d_run = DDP(self.d, device_ids=ids, gradient_as_bucket_view=True)
        # Noise: the same generator on every rank and in a single process; each rank keeps
        # its rows of the global batch's noise. Dropout uses the global RNG, per rank.
        self.noise_gen = torch.Generator(device=self.device)
        self.noise_gen.manual_seed(t.seed + NOISE_SEED_OFFSET)
        if self.rank > 0:
            torch.manual_seed(t.seed + 1_000_003 * self.rank)
        self.ema = EMA(self.g, t.ema) if t.ema else None
        self._ema_calibrated_at: int | None = None
        # CUDA graphs (gankit.cudagraphs): hooks through which the graphs take the random
        # draws and the EMA weight from static tensors.
        self.draw_hook: Callable[[Draw, Tensor], None] | None = None
        self.static_draws: list[Tensor] | None = None
        self.static_ema_weight: Tensor | None = None
        self.graphs = IterationGraphs(self) if use_graphs else None
        # Fixed latents: every sample grid of a run shows the same 100 z's.
        zgen = torch.Generator().manual_seed(t.seed + 7919)
        self.fixed_z = torch.randn(100, cfg.model.z_dim, generator=zgen)
        self.epoch = 0
        self.iteration = 0
        self.g_steps = 0
        self.elapsed = 0.0
        """Training seconds over all sessions of this run."""

    # ------------------------------------------------------------------ steps
    def _autocast(self):  # noqa: ANN202
        if self.precision == "bf16":
            # CUDA graphs need autocast's cast cache off (its copies would outlive capture)
            return torch.autocast(self.device.type, dtype=torch.bfloat16,
                                  cache_enabled=self.graphs is None)
        return nullcontext()

    def reseed(self, seed: int) -> None:
        """Fresh random streams: the noise generator (seed + offset, alike on every rank) and
        the global RNG for dropout (seed, plus an offset per rank other than 0)."""
        self.noise_gen.manual_seed(seed + NOISE_SEED_OFFSET)
        torch.manual_seed(seed + 1_000_003 * self.rank)

    def _draw(self, shape: tuple[int, ...], dtype: torch.dtype,
              fill: Callable[[Tensor], Tensor]) -> Tensor:
        """A random draw from the noise generator: `fill` on a new (shape, dtype) tensor
        (torch.randn & co. are exactly empty + normal_ & co.). Under CUDA graphs the draw
        comes from a static buffer the graph runner fills eagerly, with the same `fill`."""
        if self.static_draws is not None:
            return self.static_draws.pop(0)

        def make(out: Tensor | None = None) -> Tensor:
            return fill(torch.empty(shape, dtype=dtype, device=self.device) if out is None
                        else out)

        out = make()
        if self.draw_hook is not None:
            self.draw_hook(make, out)
        return out

    def noise(self, n: int) -> Tensor:
        """z ~ N(0, I), (n, Z): this rank's rows of the global draw of n * ranks vectors."""
        gen = self.noise_gen
        z = self._draw((n * self.world, self.cfg.model.z_dim), torch.float32,
                       lambda out: out.normal_(generator=gen))
        return z[self.rank * n : (self.rank + 1) * n] if self.world > 1 else z

    def fake_labels(self, n: int) -> Tensor | None:
        """Class labels for n fakes, uniform over the K classes, from the noise generator
        (this rank's rows of the global draw, like `noise`); None when unconditional."""
        if not self.n_classes:
            return None
        k, gen = self.n_classes, self.noise_gen
        y = self._draw((n * self.world,), torch.int64, lambda out: out.random_(0, k, generator=gen))
        return y[self.rank * n : (self.rank + 1) * n] if self.world > 1 else y

    def d_step(self, real: Tensor, real_labels: Tensor | None = None) -> dict[str, Tensor]:
        """(1) Update D on real images and fresh fakes; G gets no gradient.

        `real_labels` (B,): the real images' classes (conditional runs only).
        """
        b = real.shape[0]
        cond = self.n_classes > 0
        assert (real_labels is not None) == cond, "real labels iff conditional"
        # (1a) fresh fakes (with uniformly drawn classes), G not differentiated
        with torch.no_grad(), self._autocast():
            z = self.noise(b)
            fake_labels = self.fake_labels(b)
            fake = self.g(z, fake_labels) if cond else self.g(z)
        # (1b) one D pass over real and fake (as the notes' Keras code does; D has no
        # BatchNorm, so the joint pass does not mix the two batches' statistics)
        both = torch.cat([real, fake.to(real.dtype)])  # (2B, C, H, W)
        with self._autocast():
            if cond:
                logits = self.d_run(both, torch.cat([real_labels, fake_labels])).float()  # (2B,)
            else:
                logits = self.d_run(both).float()  # (2B,)
        real_logits, fake_logits = logits[:b], logits[b:]
        # (1c) D's cost with one-sided label smoothing, then one Adam step
        loss = self.game.d_loss(real_logits, fake_logits, self.cfg.loss.real_label)
        if self.game.gradient_penalty > 0:
            # (1c') WGAN-GP: lambda * E (||grad D(x_hat)|| - 1)^2, eps ~ U[0,1] per sample;
            # conditional: x_hat is scored with the real image's class.
            # eps from the noise generator, this rank's rows of the global draw (like z)
            shape = (b * self.world,) + (1,) * (real.ndim - 1)
            gen = self.noise_gen  # = interpolation_weights(real.new_empty(shape), gen)
            eps = self._draw(shape, real.dtype, lambda out: out.uniform_(generator=gen))
            eps = eps[self.rank * b : (self.rank + 1) * b] if self.world > 1 else eps

            def critic(x: Tensor) -> Tensor:
                return self.d(x, real_labels) if cond else self.d(x)

            gp = gradient_penalty(critic, real, fake.to(real.dtype), eps)
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

    def g_step(self, batch_size: int) -> dict[str, Tensor]:
        """(2) Update G through a frozen D on fresh noise."""
        self.d.requires_grad_(False)
        try:
            with self._autocast():
                z = self.noise(batch_size)
                y = self.fake_labels(batch_size)
                if y is None:
                    fake_logits = self.d(self.g_run(z)).float()  # (B,)
                else:
                    fake_logits = self.d(self.g_run(z, y), y).float()  # (B,)
            loss = self.game.g_loss(fake_logits)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = diagnostics.grad_norm(self.g)
            self.opt_g.step()
        finally:
            self.d.requires_grad_(True)
        # (2b) the moving average of G's weights follows every G step
        if self.ema is not None:
            self.ema.update(self.g, weight=self.static_ema_weight)
        self.g_steps += 1
        dj = diagnostics.mean_abs_dj_dlogit(self.game, fake_logits)
        return {"loss_g": loss.detach(), "g_grad_norm": grad_norm, "dj_dl": dj}

    def iteration_step(self, index: Tensor, with_g: bool) -> Tensor:
        """One iteration on the samples at `index` (this rank's rows of the batch): a D step,
        then a G step if `with_g`; returns the stats as a vector in STAT_NAMES order."""
        real = self.data.index_select(0, index)
        real_labels = None if self.labels is None else self.labels.index_select(0, index)
        stats = self.d_step(real) if real_labels is None else self.d_step(real, real_labels)
        if with_g:
            stats.update(self.g_step(self.local_batch))
        # a zero for the stats this iteration has not (D-only iterations, score games' JS_hat)
        zero = real.new_zeros((), dtype=torch.float32) if len(stats) < len(STAT_NAMES) else None
        return torch.stack([stats[name].float() if name in stats else zero
                            for name in STAT_NAMES])

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
        epoch = self.epoch + 1
        b = self.cfg.train.batch_size
        lb, lo = self.local_batch, self.rank * self.local_batch
        n_iter = self.iterations_per_epoch()
        k = self.cfg.train.n_critic
        perm = epoch_permutation(self.data.shape[0], self.cfg.train.seed, epoch).to(self.device)
        sums = torch.zeros(len(STAT_NAMES), device=self.device)
        is_g = torch.tensor([name in G_STAT_NAMES for name in STAT_NAMES], device=self.device)
        g_done = 0
        self.g.train()
        self.d.train()
        start = time.perf_counter()

        def averages(d_done: int, totals: Tensor = sums) -> Tensor:
            return totals / torch.where(is_g, float(max(g_done, 1)), float(d_done))

        for i in range(n_iter):
            index = perm[i * b + lo : i * b + lo + lb]
            with_g = (self.iteration + 1) % k == 0
            if self.graphs is not None:
                sums += self.graphs.step(index, with_g)
            else:
                sums += self.iteration_step(index, with_g)
            g_done += with_g
            self.iteration += 1
            if progress is not None:
                # Reading the sums syncs with the device: only every 25 iterations.
                means = None
                if (i + 1) % 25 == 0 or i + 1 == n_iter:
                    means = dict(zip(STAT_NAMES, averages(i + 1).tolist(), strict=True))
                progress(i + 1, means)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start
        self.elapsed += seconds
        self.epoch = epoch
        means = averages(max(n_iter, 1), mean_over_ranks(self.dist, sums)).tolist()
        record: dict[str, Any] = {"epoch": epoch, "iteration": self.iteration,
                                  "g_steps": self.g_steps}
        record.update(dict(zip(STAT_NAMES, means, strict=True)))
        if not self.game.probabilistic:  # d_real / d_fake are mean scores; no JS estimate
            del record["js_hat"]
            record["d_output"] = "score"
        record.update({
            "seconds": seconds,
            "images_per_s": n_iter * b / seconds if seconds > 0 else float("nan"),
            "elapsed": self.elapsed,
        })
        return record

    @property
    def sampler(self) -> nn.Module:
        """The G that draws samples: the EMA copy (BatchNorm recalibrated) when EMA is on."""
        if self.ema is None:
            return self.g
        self._calibrate_ema()
        return self.ema.model

    def _calibrate_ema(self) -> None:
        """Recompute the EMA G's BatchNorm statistics once per EMA state (deterministic)."""
        assert self.ema is not None
        if self._ema_calibrated_at == self.ema.updates:
            return
        gen = torch.Generator(device=self.device)
        gen.manual_seed(self.cfg.train.seed * 1_000_003 + self.ema.updates)
        b, zdim = self.cfg.train.batch_size, self.cfg.model.z_dim

        def batches():  # noqa: ANN202
            for _ in range(EMA_CALIBRATION_BATCHES):
                z = torch.randn(b, zdim, generator=gen, device=self.device)
                if not self.n_classes:
                    yield (z,)
                else:
                    yield z, torch.randint(0, self.n_classes, (b,), generator=gen,
                                           device=self.device)

        self.ema.recalibrate_batchnorm(batches())
        self._ema_calibrated_at = self.ema.updates

    def fixed_grid(self) -> tuple[Tensor, Tensor | None]:
        """(z, labels) of the sample grid: the 100 fixed latents; conditional: one row per
        class, K x 10, column j using the same latent fixed_z[j] in every row."""
        if not self.n_classes:
            return self.fixed_z, None
        labels = class_grid_labels(self.n_classes, 10)
        return self.fixed_z[:10].repeat(self.n_classes, 1), labels

    @torch.no_grad()
    def sample(self, z: Tensor | None = None, labels: Tensor | None = None) -> Tensor:
        """Images from G (EMA when on) in eval mode; the fixed grid by default. (B, C, H, W)."""
        if z is None:
            z, labels = self.fixed_grid()
        g = self.sampler
        was = g.training
        g.eval()
        if self.n_classes:  # no labels: G draws the classes 0..K-1 in turn
            labels = None if labels is None else labels.to(self.device)
            out = g(z.to(self.device), labels).float().cpu()
        else:
            out = g(z.to(self.device)).float().cpu()
        g.train(was)
        return out

    # ------------------------------------------------------------------ state
    def data_fingerprint(self) -> str:
        """SHA256 of the training samples (float32 bytes) and labels: a resumed run must
        train on the same data, wherever it is read from."""
        key = (self.data.data_ptr(), *self.data.shape)
        if self._fingerprint is None or self._fingerprint[0] != key:
            h = hashlib.sha256()
            h.update(self.data.detach().float().contiguous().cpu().numpy())
            if self.labels is not None:
                h.update(self.labels.detach().contiguous().cpu().numpy())
            self._fingerprint = (key, h.hexdigest())
        return self._fingerprint[1]

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume or to sample: one dict of tensors and plain data."""
        rng: dict[str, Any] = {"torch": torch.get_rng_state(),
                               "noise": self.noise_gen.get_state(),
                               "noise_device": self.device.type}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        if self.world > 1:  # a collective: every rank calls state_dict together
            rng["ranks"] = all_gather_objects(self.dist, {k: v for k, v in rng.items()
                                                          if k in ("torch", "cuda")})
        extra: dict[str, Any] = {}
        if self.ema is not None:
            self._calibrate_ema()
            extra["ema"] = self.ema.state_dict()
        return {
            **extra,
            "format": STATE_FORMAT,
            "gankit_version": __version__,
            "config": self.cfg.to_dict(),
            "sample_shape": list(self.data.shape[1:]),
            "data_sha256": self.data_fingerprint(),
            "n_classes": self.n_classes,
            "g_steps": self.g_steps,
            "g": self.g.state_dict(),
            "d": self.d.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "epoch": self.epoch,
            "iteration": self.iteration,
            "elapsed": self.elapsed,
            "fixed_z": self.fixed_z.clone(),
            "rng": rng,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from `state_dict()` (exact resume); mismatches are errors."""
        check_state(state)
        if self.graphs is not None:  # they hold the optimiser state about to be replaced
            self.graphs.reset()
        if list(state["sample_shape"]) != list(self.data.shape[1:]):
            raise CheckpointError(f"checkpoint was trained on samples of shape "
                                  f"{state['sample_shape']}, the data here are "
                                  f"{list(self.data.shape[1:])}")
        if int(state.get("n_classes", 0)) != self.n_classes:
            raise CheckpointError(f"checkpoint has {state.get('n_classes', 0)} classes, the "
                                  f"data here {self.n_classes}")
        try:
            self.g.load_state_dict(state["g"])
            self.d.load_state_dict(state["d"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            if self.ema is not None:
                if "ema" not in state:
                    raise KeyError("ema (the checkpoint was trained without train.ema)")
                self.ema.load_state_dict(state["ema"])
                self._ema_calibrated_at = None
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            from gankit.checkpoint import describe_load_error

            raise CheckpointError(f"checkpoint does not fit this model: "
                                  f"{describe_load_error(err)}") from None
        self.epoch = int(state["epoch"])
        self.iteration = int(state["iteration"])
        self.g_steps = int(state.get("g_steps", self.iteration))
        self.elapsed = float(state.get("elapsed", 0.0))
        self.fixed_z = state["fixed_z"].clone()
        rng = state["rng"]
        mine: dict[str, Any] | None = rng
        if self.world > 1:
            ranks = rng.get("ranks")
            if ranks is not None and len(ranks) == self.world:
                mine = {**rng, **ranks[self.rank]}
            elif self.rank > 0:
                mine = None  # saved with another number of ranks: fresh dropout RNG
        if mine is None:
            torch.manual_seed(self.cfg.train.seed + 1_000_003 * self.rank + self.iteration)
        else:
            torch.set_rng_state(mine["torch"])
            if "cuda" in mine and self.device.type == "cuda":
                torch.cuda.set_rng_state(mine["cuda"], self.device)
        if "noise" in rng and rng.get("noise_device", "cpu") == self.device.type:
            self.noise_gen.set_state(rng["noise"])
        else:  # saved on another kind of device (or before the noise generator existed)
            self.noise_gen.manual_seed(self.cfg.train.seed + NOISE_SEED_OFFSET + self.iteration)
        # Fused or not is this trainer's choice, not the checkpoint's (load_state_dict
        # copies the saved groups' flags).
        for opt, modes in zip((self.opt_g, self.opt_d), self._adam_modes, strict=True):
            for group in opt.param_groups:
                group.update(modes)
            if modes.get("capturable"):  # a state saved without: its step counts go to the GPU
                for state_of_param in opt.state.values():
                    step = state_of_param.get("step")
                    if isinstance(step, Tensor) and step.device != self.device:
                        state_of_param["step"] = step.to(self.device, torch.float32)


REQUIRED_KEYS = ("format", "config", "sample_shape", "g", "d", "opt_g", "opt_d", "epoch",
                 "iteration", "fixed_z", "rng")


def check_state(state: dict[str, Any]) -> None:
    """Raise CheckpointError unless `state` is a whole-run state this version can read."""
    from gankit.checkpoint import validate_state

    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"checkpoint lacks {', '.join(missing)}; it is not a whole-run "
                              "gankit checkpoint")
    if state["format"] != STATE_FORMAT:
        raise CheckpointError(f"checkpoint format {state['format']} is not supported by gankit "
                              f"{__version__} (format {STATE_FORMAT}); use the gankit version "
                              f"that wrote it ({state.get('gankit_version', 'unknown')})")
    validate_state(state)  # schema, types, ranges, finite weights


def load_generator(
    path: Any, device: torch.device | str = "cpu", warn: Callable[[str], None] | None = None
) -> tuple[nn.Module, Config]:
    """G (eval mode) and the run's config from a checkpoint file or run folder; no data needed.

    G holds the EMA weights when the run kept an EMA. A conditional G (`g.n_classes > 0`)
    is called as g(z, labels); `gankit.models.generate(g, z, labels)` handles both kinds.

    A run folder gives its newest checkpoint that loads; a corrupt newer one is named through
    `warn` (default: a line on stderr).
    """
    import sys
    from pathlib import Path

    from gankit.checkpoint import describe_load_error, latest_valid, load_valid, resolve_checkpoint

    if Path(path).is_dir():
        _, state = latest_valid(path, warn or (lambda m: print(m, file=sys.stderr)))
    else:
        state = load_valid(resolve_checkpoint(path))
    check_state(state)
    cfg = Config.from_dict(state["config"])
    g, _ = build_models(cfg.model.name, cfg.model.z_dim, tuple(state["sample_shape"]),
                        cfg.model.g_hidden, cfg.model.d_hidden, cfg.model.dropout,
                        width=cfg.model.width, n_classes=int(state.get("n_classes", 0)))
    weights = state["ema"]["model"] if state.get("ema") else state["g"]
    try:
        g.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint generator does not fit its config: "
                              f"{describe_load_error(err)}") from None
    return g.to(device).eval(), cfg
