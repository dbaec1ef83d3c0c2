"""The GAN training loop: `d_step`, `g_step`, `fit`, and one state dict for the whole run.

The algorithm, per iteration (the notes' Example 2, Goodfellow et al. 2014, Algorithm 1):
  (1) update D: ascend log D(x) + log(1 - D(G(z))) on a batch of real images and a batch
      of fresh fakes (G is not differentiated);
  (2) update G: descend the chosen game's cost J(G) on fresh noise, through a frozen D
      (no D gradients are computed or kept).
An epoch is one pass over a fresh shuffle of the whole training set: floor(N / B)
iterations of B real images each; the last partial batch is dropped.

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

import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit import __version__, diagnostics
from gankit.config import Config
from gankit.distributed import DistInfo, all_gather_objects, mean_over_ranks
from gankit.errors import CheckpointError, ConfigError
from gankit.losses import get_game
from gankit.models import build_models

STATE_FORMAT = 1
"""Version of the checkpoint layout; bumped when it changes incompatibly."""

STAT_NAMES = ("loss_d", "loss_g", "d_real", "d_fake", "js_hat", "g_grad_norm", "dj_dl")
"""Per-epoch averages written to the metrics log, besides timing."""


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
    params: Any, lr: float, betas: tuple[float, float]
) -> torch.optim.Optimizer:
    """Adam, fused into one kernel per step where this torch and device support it."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas)


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


class Trainer:
    """Owns G, D, their optimisers and the run's counters; trains on one data tensor."""

    def __init__(
        self, cfg: Config, data: Tensor, device: torch.device | str = "cpu",
        dist: DistInfo | None = None,
    ) -> None:
        """`data`: (N, *sample_shape) float32 training samples (images in [-1, 1]).

        `dist`: this process's rank in a distributed run (gankit.distributed), or None.
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
        self.game = get_game(cfg.loss.game)

        torch.manual_seed(t.seed)
        self.g, self.d = build_models(
            cfg.model.name, cfg.model.z_dim, tuple(data.shape[1:]),
            cfg.model.g_hidden, cfg.model.d_hidden, cfg.model.dropout,
        )
        self.g.to(self.device)
        self.d.to(self.device)
        self.opt_g = make_adam(self.g.parameters(), t.lr_g, (t.beta1_g, t.beta2))
        self.opt_d = make_adam(self.d.parameters(), t.lr_d, (t.beta1_d, t.beta2))
        self._adam_modes = [(o.param_groups[0].get("fused"), o.param_groups[0].get("foreach"))
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
        # Fixed latents: every sample grid of a run shows the same 100 z's.
        zgen = torch.Generator().manual_seed(t.seed + 7919)
        self.fixed_z = torch.randn(100, cfg.model.z_dim, generator=zgen)
        self.epoch = 0
        self.iteration = 0
        self.elapsed = 0.0
        """Training seconds over all sessions of this run."""

    # ------------------------------------------------------------------ steps
    def _autocast(self):  # noqa: ANN202
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def reseed(self, seed: int) -> None:
        """Fresh random streams: the noise generator (seed + offset, alike on every rank) and
        the global RNG for dropout (seed, plus an offset per rank other than 0)."""
        self.noise_gen.manual_seed(seed + NOISE_SEED_OFFSET)
        torch.manual_seed(seed + 1_000_003 * self.rank)

    def noise(self, n: int) -> Tensor:
        """z ~ N(0, I), (n, Z): this rank's rows of the global draw of n * ranks vectors."""
        z = torch.randn(n * self.world, self.cfg.model.z_dim, device=self.device,
                        generator=self.noise_gen)
        return z[self.rank * n : (self.rank + 1) * n] if self.world > 1 else z

    def d_step(self, real: Tensor) -> dict[str, Tensor]:
        """(1) Update D on real images and fresh fakes; G gets no gradient."""
        b = real.shape[0]
        # (1a) fresh fakes, G not differentiated
        with torch.no_grad(), self._autocast():
            fake = self.g(self.noise(b))
        # (1b) one D pass over real and fake (as the notes' Keras code does)
        with self._autocast():
            logits = self.d_run(torch.cat([real, fake.to(real.dtype)])).float()  # (2B,)
        real_logits, fake_logits = logits[:b], logits[b:]
        # (1c) D's cost with one-sided label smoothing, then one Adam step
        loss = self.game.d_loss(real_logits, fake_logits, self.cfg.loss.real_label)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        d_real, d_fake = diagnostics.d_means(real_logits, fake_logits)
        return {
            "loss_d": loss.detach(),
            "d_real": d_real,
            "d_fake": d_fake,
            "js_hat": diagnostics.js_hat_from_logits(real_logits, fake_logits),
        }

    def g_step(self, batch_size: int) -> dict[str, Tensor]:
        """(2) Update G through a frozen D on fresh noise."""
        self.d.requires_grad_(False)
        try:
            with self._autocast():
                fake_logits = self.d(self.g_run(self.noise(batch_size))).float()  # (B,)
            loss = self.game.g_loss(fake_logits)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = diagnostics.grad_norm(self.g)
            self.opt_g.step()
        finally:
            self.d.requires_grad_(True)
        dj = diagnostics.mean_abs_dj_dlogit(self.game, fake_logits)
        return {"loss_g": loss.detach(), "g_grad_norm": grad_norm, "dj_dl": dj}

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
        perm = epoch_permutation(self.data.shape[0], self.cfg.train.seed, epoch).to(self.device)
        sums = torch.zeros(len(STAT_NAMES), device=self.device)
        self.g.train()
        self.d.train()
        start = time.perf_counter()
        for i in range(n_iter):
            real = self.data.index_select(0, perm[i * b + lo : i * b + lo + lb])
            stats = self.d_step(real)
            stats.update(self.g_step(lb))
            sums += torch.stack([stats[k].float() for k in STAT_NAMES])
            self.iteration += 1
            if progress is not None:
                # Reading the sums syncs with the device: only every 25 iterations.
                means = None
                if (i + 1) % 25 == 0 or i + 1 == n_iter:
                    means = dict(zip(STAT_NAMES, (sums / (i + 1)).tolist(), strict=True))
                progress(i + 1, means)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start
        self.elapsed += seconds
        self.epoch = epoch
        means = (mean_over_ranks(self.dist, sums) / max(n_iter, 1)).tolist()
        record: dict[str, Any] = {"epoch": epoch, "iteration": self.iteration}
        record.update(dict(zip(STAT_NAMES, means, strict=True)))
        record.update({
            "seconds": seconds,
            "images_per_s": n_iter * b / seconds if seconds > 0 else float("nan"),
            "elapsed": self.elapsed,
        })
        return record

    @torch.no_grad()
    def sample(self, z: Tensor | None = None) -> Tensor:
        """Images from G in eval mode; the fixed latents by default. (B, C, H, W)."""
        z = self.fixed_z if z is None else z
        was = self.g.training
        self.g.eval()
        out = self.g(z.to(self.device)).float().cpu()
        self.g.train(was)
        return out

    # ------------------------------------------------------------------ state
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
        return {
            "format": STATE_FORMAT,
            "gankit_version": __version__,
            "config": self.cfg.to_dict(),
            "sample_shape": list(self.data.shape[1:]),
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
        if list(state["sample_shape"]) != list(self.data.shape[1:]):
            raise CheckpointError(f"checkpoint was trained on samples of shape "
                                  f"{state['sample_shape']}, the data here are "
                                  f"{list(self.data.shape[1:])}")
        try:
            self.g.load_state_dict(state["g"])
            self.d.load_state_dict(state["d"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
        except (RuntimeError, ValueError, KeyError) as err:
            first = str(err).strip().splitlines()[0]
            raise CheckpointError(f"checkpoint does not fit this model: {first[:200]}") from None
        self.epoch = int(state["epoch"])
        self.iteration = int(state["iteration"])
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
        for opt, (fused, foreach) in zip((self.opt_g, self.opt_d), self._adam_modes,
                                         strict=True):
            for group in opt.param_groups:
                group["fused"], group["foreach"] = fused, foreach


REQUIRED_KEYS = ("format", "config", "sample_shape", "g", "d", "opt_g", "opt_d", "epoch",
                 "iteration", "fixed_z", "rng")


def check_state(state: dict[str, Any]) -> None:
    """Raise CheckpointError unless `state` is a whole-run state this version can read."""
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"checkpoint lacks {', '.join(missing)}; it is not a whole-run "
                              "gankit checkpoint")
    if state["format"] != STATE_FORMAT:
        raise CheckpointError(f"checkpoint format {state['format']} is not supported by gankit "
                              f"{__version__} (format {STATE_FORMAT}); use the gankit version "
                              f"that wrote it ({state.get('gankit_version', 'unknown')})")


def load_generator(
    path: Any, device: torch.device | str = "cpu", warn: Callable[[str], None] | None = None
) -> tuple[nn.Module, Config]:
    """G (eval mode) and the run's config from a checkpoint file or run folder; no data needed.

    A run folder gives its newest checkpoint that loads; a corrupt newer one is named through
    `warn` (default: a line on stderr).
    """
    import sys
    from pathlib import Path

    from gankit.checkpoint import latest_valid, load, resolve_checkpoint

    if Path(path).is_dir():
        _, state = latest_valid(path, warn or (lambda m: print(m, file=sys.stderr)))
    else:
        state = load(resolve_checkpoint(path))
    check_state(state)
    cfg = Config.from_dict(state["config"])
    g, _ = build_models(cfg.model.name, cfg.model.z_dim, tuple(state["sample_shape"]),
                        cfg.model.g_hidden, cfg.model.d_hidden, cfg.model.dropout)
    try:
        g.load_state_dict(state["g"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint generator does not fit its config: {first}") from None
    return g.to(device).eval(), cfg
