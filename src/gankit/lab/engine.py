"""The lab session: panels of toy GANs trained step by step with gankit's own trainers.

A session holds P panels that advance together:
- `games` mode: three panels, the same config and seed under the notes' three games
  (minimax, non-saturating, maximum-likelihood), one serial `Trainer` each (the batched
  trainer batches seeds of one game, not games);
- `seeds` mode: S seeds of one game as one `BatchedToyGANs` (gankit.runs.batched), a panel a
  seed (modes covered per seed);
- `single` mode: one serial `Trainer` (the one "save as run" and `gankit lab --run` use).

Both trainers are reached through a thin adapter (gankit.lab.panels) that uses only
their public surface: the constructor, `d_step`, `g_step`, `iteration_step`, the counters
`iteration`, `g_steps`, `epoch`, and `state_dict` / `load_state_dict`. The epoch's bookkeeping
is the trainers' own: epoch e's batches and G-step rule come from `GANStep.iterations` (what
`run_epoch` steps through) over `epoch_permutations`, one iteration drawn at a time, and the
record is `means_of` and `epoch_record` of the same sums, so a session that only plays,
steps by iteration or epoch, or by a D step then a G step, trains bit for bit as
`gankit train` does with its config. What leaves that path (a D step when the iteration's
G step is due, a G step outside an iteration, a learning rate changed after the first
step) is recorded in `deviation`, and "save as run" then refuses, saying why.

Settings (`set`): learning rates, betas, n_critic and instance noise apply at once (as GAN
Lab does for hyperparameters); the game, data, network widths, latent size, batch size and
seed rebuild the panels (a reset).
"""

from __future__ import annotations

import copy
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gankit.config import Config, apply_overrides, build_config, config_value, read_config_file
from gankit.core.losses import GAMES, GENERATOR_GAMES, Game, get_game
from gankit.core.step import epoch_record, means_of, scheduled
from gankit.core.trainer import check_n_critic, epoch_permutations
from gankit.data import load_dataset
from gankit.data.toy import get_toy
from gankit.datasets import is_toy, names
from gankit.errors import ConfigError, GankitError, short
from gankit.lab import views
from gankit.lab.panels import SeedGroup, SerialGroup, vector
from gankit.runs import checkpoint as ckpt
from gankit.runs.batched import toy_metrics_batched
from gankit.runs.folder import RunFolder, prepare_run_dir
from gankit.runs.resume import restore
from gankit.runs.toy import eval_latents, reference_sample, toy_epoch_metrics
from gankit.stats import STAT_NAMES
from gankit.validation import validate

LAB_PRESET = "toy-ring"
"""The preset a lab session starts from (gankit.preset_data)."""
LAB_OVERRIDES: dict[str, Any] = {
    "model.z_dim": 2,  # a 2-D latent: G's warp of the latent plane is the whole G
    "train.device": "cpu",  # a saved run must train where the lab did
    "train.precision": "fp32",
    "train.epochs": 100,
}
"""The lab's changes to LAB_PRESET."""

MNIST_PRESET = "default"
MNIST_OVERRIDES: dict[str, Any] = {
    "data.limit": 4096,  # small scale: an epoch of 64 iterations in seconds
    "model.g_hidden": [128, 256],
    "model.d_hidden": [256, 128],
    "train.batch_size": 64,
    "train.ema": None,
    "train.device": "cpu",
    "train.precision": "fp32",
    "train.epochs": 50,
}
"""The MNIST view's config: the notes' MLP (LeakyReLU, dropout in D, tanh images) narrower,
on the first 4,096 training images."""

MODES = ("games", "seeds", "single", "mnist")
MAX_SEEDS = 8
DRAWN = "drawn"
"""The data choice of a distribution drawn on the page."""
DRAWN_STD = 0.05
"""Each drawn point becomes a small Gaussian of this std."""
MAX_DRAWN_POINTS = 4000
REAL_SHOWN = 500
"""Real samples drawn on the page."""

NOW = ("train.lr_d", "train.lr_g", "train.beta1_d", "train.beta1_g", "train.beta2",
       "train.n_critic", "train.instance_noise")
"""Settings that take effect at the next step."""
RESET = ("loss.game", "data.dataset", "model.g_hidden", "model.d_hidden", "model.z_dim",
         "train.seed", "train.batch_size", "loss.real_label")
"""Settings that rebuild the panels."""
MAX_WIDTH = 512
MAX_LAYERS = 4
STEP_KINDS = ("d", "g", "iteration", "epoch")


def lab_config(overrides: dict[str, Any] | None = None) -> Config:
    """The lab's starting config (LAB_PRESET + LAB_OVERRIDES + `overrides`), validated."""
    return build_config(LAB_PRESET, None, {**LAB_OVERRIDES, **(overrides or {})})


def mnist_config(overrides: dict[str, Any] | None = None) -> Config:
    """The MNIST view's starting config (MNIST_PRESET + MNIST_OVERRIDES), validated."""
    return build_config(MNIST_PRESET, None, {**MNIST_OVERRIDES, **(overrides or {})})


def check_lab_config(cfg: Config) -> None:
    """A config the lab can train: a toy set, toy-mlp, no dropout, EMA, packing or classes."""
    m, t = cfg.model, cfg.train
    bad = [
        (not is_toy(cfg.data.dataset), f"data.dataset={cfg.data.dataset!r} is not a toy set "
                                       f"(the lab trains {', '.join(names('toy'))})"),
        (m.name != "toy-mlp", f"model.name={m.name!r}: the lab trains toy-mlp"),
        (m.dropout > 0, f"model.dropout={m.dropout:g}: the lab trains without dropout"),
        (m.pack != 1, f"model.pack={m.pack}: the lab's views score single samples"),
        (bool(t.ema), f"train.ema={t.ema}: the lab keeps no EMA of G"),
        (m.conditional, "model.conditional: toy sets have no classes"),
    ]
    problems = [msg for b, msg in bad if b]
    if problems:
        raise ConfigError("; ".join(problems) + " (use a toy run's config)")


# ---------------------------------------------------------------------------- session
@dataclass
class _Epoch:
    """The epoch in progress: its iterations to come, position, sums and G steps so far."""

    plan: Iterator[tuple[Tensor, bool]]
    """The rest of the epoch's iterations: `GANStep.iterations` over the panels' shuffles."""
    sums: Tensor
    """(P, K) sums of the iterations' stats (as Trainer.train_epoch sums them)."""
    pos: int = 0
    g_done: int = 0
    seconds: float = 0.0


class LabSession:
    """One page's training: config, mode, panels, counters, records (see the module doc)."""

    def __init__(self, cfg: Config | None = None, mode: str = "games", seeds: int = 3,
                 state: dict[str, Any] | None = None) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown mode {short(mode)}; choose one of: {', '.join(MODES)}")
        self.cfg = cfg if cfg is not None else mnist_config() if mode == "mnist" else lab_config()
        self._other_cfg: Config | None = None
        """The toy config while the MNIST view is on (and the other way round)."""
        if mode != "mnist":
            check_lab_config(self.cfg)
        self.mode, self.n_seeds = mode, _check_seeds(seeds)
        self.drawn: Tensor | None = None
        """(M, 2) points drawn on the page, when the data are drawn."""
        self.speed = 1
        """Iterations per frame while playing."""
        torch.set_num_threads(1)  # as a toy run (gankit.runs.loop): tiny nets, one thread
        self.reset(state)

    # ------------------------------------------------------------------ building
    def panel_configs(self) -> list[Config]:
        base = self.cfg
        if self.mode == "games":
            return [_with(base, {"loss.game": g}) for g in GENERATOR_GAMES]
        if self.mode == "seeds":
            return [_with(base, {"train.seed": base.train.seed + k})
                    for k in range(self.n_seeds)]
        return [_with(base, {})]

    def reset(self, state: dict[str, Any] | None = None) -> None:
        """Rebuild the panels from the config (fresh weights, counters and records)."""
        cfgs = self.panel_configs()
        self.data = self._data()
        n, b = self.data.shape[0], self.cfg.train.batch_size
        if b > n:
            raise ConfigError(f"batch size {b} is larger than the data set ({n} samples); "
                              f"use {min(64, n)} or less")
        check_n_critic(self.cfg.train.n_critic, n // b)
        self.group: SerialGroup | SeedGroup = (
            SeedGroup(cfgs, self.data) if self.mode == "seeds" else SerialGroup(cfgs, self.data))
        if state is not None:
            assert isinstance(self.group, SerialGroup) and self.group.size == 1
            restore(self.group.trainers[0], state, n)
        self.cfgs = cfgs
        self.mnist = self.mode == "mnist"
        self.toy = None if self.drawn is not None or self.mnist else \
            get_toy(self.cfg.data.dataset)
        self.dim = int(self.data[0].numel())
        self.current: _Epoch | None = None
        self.pending: dict[str, Tensor] | None = None
        """A D step's stats while the iteration's G step is due."""
        self.deviation: str | None = None
        """Why this session left the serial run's path (None: it has not)."""
        p = self.group.size
        self.records: list[list[dict[str, Any]]] = [[] for _ in range(p)]
        self.snapshots: list[dict[str, Any] | None] = [None] * p
        """Serial panels: the whole-run state at the last epoch's end (for save)."""
        self.frame_sums, self.frame_count = torch.zeros(p, len(STAT_NAMES)), 0
        z_dim = self.cfg.model.z_dim
        self.z_show = views.display_latents(z_dim)
        self.z_warp = views.latent_grid(z_dim, self.dim)
        if self.mnist:  # a fixed batch of real images for D(x)'s histogram
            gen = torch.Generator().manual_seed(1)
            self.real_probe = self.data[torch.randperm(n, generator=gen)[:views.SHOW]]
        else:
            self.extent = self._extent()
            self.grid = views.data_grid(*self.extent, self.dim)
        self.frames = 0
        self._pending_seconds = 0.0
        self.opened = state is not None
        """Continued from a run folder's checkpoint (`open_run`)."""

    def _data(self) -> Tensor:
        if self.drawn is None or self.mode == "mnist":
            return load_dataset(self.cfg.data).samples
        gen = torch.Generator().manual_seed(0)
        n = self.cfg.data.toy_samples
        idx = torch.randint(self.drawn.shape[0], (n,), generator=gen)
        return self.drawn[idx] + DRAWN_STD * torch.randn(n, 2, generator=gen)

    def _extent(self) -> tuple[float, float]:
        if self.drawn is not None:
            return -4.0, 4.0
        assert self.toy is not None
        return self.toy.extent()

    # ------------------------------------------------------------------ steps
    @property
    def iterations_per_epoch(self) -> int:
        return self.data.shape[0] // self.cfg.train.batch_size

    def _begin(self) -> _Epoch:
        if self.current is None:
            epoch = self.group.epoch + 1
            perms = epoch_permutations(self.data.shape[0], self.group.seeds, epoch,
                                       self.cfg.train.real_batches)  # (P, N)
            self.current = _Epoch(self.group.lead.iterations(perms),
                                  torch.zeros(self.group.size, len(STAT_NAMES)))
        return self.current

    def _next(self) -> tuple[Tensor, bool]:
        """The next iteration: the panels' batch indices (P, B), and whether G steps after D."""
        return next(self._begin().plan)

    def _finish(self, stats: Tensor, with_g: bool, seconds: float) -> None:
        """Count one iteration (stats (P, K)); at the epoch's end, its records."""
        e = self._begin()
        e.sums += stats
        e.g_done += with_g
        e.pos += 1
        e.seconds += seconds
        self.group.count(iterations=1, g_steps=int(with_g))
        self.frame_sums += stats
        self.frame_count += 1
        if e.pos == self.iterations_per_epoch:
            self._end_epoch(e)

    def _end_epoch(self, e: _Epoch) -> None:
        self.group.count(epochs=1, seconds=e.seconds)
        self.current = None
        toy = self._toy_metrics()
        means = means_of(e.sums, e.pos, e.g_done).tolist()  # (P, K)
        images = e.pos * self.cfg.train.batch_size
        for k, game in enumerate(self.group.games):
            record = epoch_record(self.group.epoch, self.group.iteration, self._g_steps(k),
                                  means[k], game.probabilistic, e.seconds, images,
                                  self.group.elapsed)
            record.update(toy[k])
            self.records[k].append(record)
        if isinstance(self.group, SerialGroup):
            self.snapshots = [copy.deepcopy(t.state_dict()) for t in self.group.trainers]

    def _g_steps(self, k: int) -> int:
        if isinstance(self.group, SerialGroup):
            return self.group.trainers[k].g_steps
        return self.group.bt.g_steps

    def _toy_metrics(self) -> list[dict[str, Any]]:
        """Each panel's toy metrics at this epoch's end, as the run folder computes them."""
        p = self.group.size
        if self.toy is None:
            return [{} for _ in range(p)]
        z = eval_latents(self.cfg.model.z_dim)
        if isinstance(self.group, SerialGroup):
            return [toy_epoch_metrics(t.g, self.toy, z) for t in self.group.trainers]
        return toy_metrics_batched(self.group.bt.generate(z), self.toy,
                                   reference_sample(self.toy, z.shape[0]))

    def step(self, kind: str) -> None:
        """One D step, one G step, one iteration or one epoch, on every panel."""
        if kind not in STEP_KINDS:
            raise ConfigError(f"unknown step {short(kind)}; choose one of: "
                              f"{', '.join(STEP_KINDS)}")
        if kind == "iteration":
            self._iteration()
        elif kind == "d":
            self._d_step()
        elif kind == "g":
            self._g_step()
        else:
            start = self.group.epoch
            while self.group.epoch == start:
                self._iteration()

    def _iteration(self) -> None:
        if self.pending is not None:  # the G step the last D step left due
            self._g_step()
            return
        index, with_g = self._next()
        start = time.perf_counter()
        stats = self.group.iteration_step(index, with_g)
        self._finish(stats, with_g, time.perf_counter() - start)

    def _d_step(self) -> None:
        if self.pending is not None:
            self._leave_path("a D step while the iteration's G step was due (G skipped it)")
            pending, self.pending = self.pending, None
            self._finish(vector(pending, self.group.size), False, 0.0)
        index, with_g = self._next()
        start = time.perf_counter()
        stats = self.group.d_step(index)
        if with_g:
            self.pending = stats
            self._pending_seconds = time.perf_counter() - start
        else:
            self._finish(vector(stats, self.group.size), False, time.perf_counter() - start)

    def _g_step(self) -> None:
        start = time.perf_counter()
        if self.pending is None:
            self._leave_path("a G step outside an iteration (no D step before it)")
            stats = self.group.g_step()
            self.group.count(g_steps=1)
            return
        stats = {**self.pending, **self.group.g_step()}
        self.pending = None
        seconds = self._pending_seconds + time.perf_counter() - start
        self._finish(vector(stats, self.group.size), True, seconds)

    def _leave_path(self, why: str) -> None:
        if self.deviation is None:
            self.deviation = f"at iteration {self.group.iteration}: {why}"

    # ------------------------------------------------------------------ settings
    def set(self, key: str, value: Any) -> str:
        """Change one setting; returns `now` (applied at the next step) or `reset`."""
        if key == "data.dataset" and self.mnist:
            raise ConfigError("the MNIST view trains on MNIST; switch the view to change data")
        if key == "data.dataset" and value == DRAWN:
            if self.drawn is None:
                raise ConfigError("draw a distribution on the page first")
            self.reset()
            return "reset"
        if key not in NOW + RESET:
            raise ConfigError(f"unknown setting {short(key)}; the lab sets: "
                              f"{', '.join(NOW + RESET)}")
        new = _with(self.cfg, {key: value})
        validate(new)
        _check_widths(new)
        if key == "data.dataset":
            self.drawn = None
        if key == "train.n_critic":
            check_n_critic(new.train.n_critic, self.iterations_per_epoch)
        if key in RESET:
            old, self.cfg = self.cfg, new
            try:
                self.reset()
            except GankitError:
                self.cfg = old
                self.reset()
                raise
            return "reset"
        self.cfg = new
        if self.group.iteration > 0 or self.pending is not None:
            self._leave_path(f"{key} changed to {value} mid-run")
        for c in self.cfgs:  # the trainers hold these configs: n_critic, instance noise
            apply_overrides(c, {key: config_value(new, key)})
        t = new.train
        for opt_d, opt_g in self.group.optimisers():
            for group in opt_d.param_groups:
                group["lr"], group["betas"] = t.lr_d, (t.beta1_d, t.beta2)
            for group in opt_g.param_groups:
                group["lr"], group["betas"] = t.lr_g, (t.beta1_g, t.beta2)
        return "now"

    def set_mode(self, mode: str, seeds: int | None = None) -> None:
        """Switch between the games, seeds and single views (a reset)."""
        if mode not in MODES:
            raise ConfigError(f"unknown mode {short(mode)}; choose one of: {', '.join(MODES)}")
        if (mode == "mnist") != (self.mode == "mnist"):  # toy config <-> MNIST config
            other = self._other_cfg or (mnist_config() if mode == "mnist" else lab_config())
            self._other_cfg, self.cfg = self.cfg, other
        self.mode = mode
        if seeds is not None:
            self.n_seeds = _check_seeds(seeds)
        self.reset()

    def draw(self, points: Any) -> None:
        """Train on a distribution drawn on the page: points [[x, y], ...] in [-4, 4]^2."""
        try:
            pts = torch.tensor(points, dtype=torch.float32)
        except (TypeError, ValueError):
            raise ConfigError("drawn points must be a list of [x, y] numbers") from None
        if pts.ndim != 2 or pts.shape[1] != 2 or not 3 <= pts.shape[0] <= MAX_DRAWN_POINTS:
            raise ConfigError(f"draw 3 to {MAX_DRAWN_POINTS} points as [[x, y], ...]; got "
                              f"shape {tuple(pts.shape)}")
        if not torch.isfinite(pts).all() or pts.abs().max() > 4:
            raise ConfigError("drawn points must be finite and inside [-4, 4]^2")
        self.drawn = pts
        self.reset()

    # ------------------------------------------------------------------ what the page shows
    def describe(self) -> dict[str, Any]:
        """What the page needs after a reset: panels, data, curves, settings."""
        games = self.group.games
        common = {
            "mode": self.mode, "seeds": self.n_seeds, "z_dim": self.cfg.model.z_dim,
            "panels": [{"game": g.name, "seed": s, "probabilistic": g.probabilistic}
                       for g, s in zip(games, self.group.seeds, strict=True)],
            "curves": [views.cost_curve(g) for g in _curve_games(games)],
            "settings": {k: config_value(self.cfg, k) for k in NOW + RESET},
            "choices": {"loss.game": list(GAMES),
                        "data.dataset": [*names('toy'), DRAWN], "mode": list(MODES)},
            "iterations_per_epoch": self.iterations_per_epoch, "speed": self.speed,
        }
        if self.mnist:
            return {**common, "data": "mnist", "dim": self.dim,
                    "image": list(self.data.shape[1:]), "bins": views.BINS}
        gen = torch.Generator().manual_seed(1)
        real = self.data[torch.randperm(self.data.shape[0], generator=gen)[:REAL_SHOWN]]
        return {
            "mode": self.mode, "seeds": self.n_seeds, "dim": self.dim,
            "z_dim": self.cfg.model.z_dim, "extent": list(self.extent),
            "data": DRAWN if self.drawn is not None else self.cfg.data.dataset,
            "panels": [{"game": g.name, "seed": s, "probabilistic": g.probabilistic}
                       for g, s in zip(games, self.group.seeds, strict=True)],
            "real": views._r(real),
            "curves": [views.cost_curve(g) for g in _curve_games(games)],
            "warp": {"n": views.WARP if self.dim == 2 and self.cfg.model.z_dim > 1
                     else views.WARP_1D, "span": views.LATENT_SPAN,
                     "z": views._r(self.z_warp[:, :2])},
            "grid": views.GRID if self.dim == 2 else views.GRID_1D,
            "settings": {k: config_value(self.cfg, k) for k in NOW + RESET},
            "choices": {"loss.game": list(GAMES),
                        "data.dataset": [*names('toy'), DRAWN], "mode": list(MODES)},
            "iterations_per_epoch": self.iterations_per_epoch,
            "speed": self.speed,
        }

    def status(self) -> dict[str, Any]:
        return {"iteration": self.group.iteration, "epoch": self.group.epoch,
                "g_steps": [self._g_steps(k) for k in range(self.group.size)],
                "pending_g": self.pending is not None, "deviation": self.deviation,
                "saveable": self.save_problem() is None, "save_problem": self.save_problem()}

    def frame(self) -> dict[str, Any]:
        """The views and the stats averaged since the last frame (see gankit.lab.views)."""
        self.frames += 1
        if self.mnist:
            assert isinstance(self.group, SerialGroup)
            panels = [views.mnist_views(self.group.trainers[0], self.real_probe, self.z_show)]
        else:
            panels = views.frame_views(self.group.g_fn, self.group.d_fn, self.group.games,
                                       self.z_show, self.z_warp, self.grid)
        mean = (self.frame_sums / max(self.frame_count, 1)).tolist()
        for k, panel in enumerate(panels):
            panel["stats"] = {n: v if math.isfinite(v) else None  # JSON has no NaN
                              for n, v in zip(STAT_NAMES, mean[k], strict=True)} \
                if self.frame_count else None
            last = self.records[k][-1] if self.records[k] else {}
            panel["modes"] = [last["modes_covered"], last["num_modes"]] \
                if "modes_covered" in last else None
        self.frame_sums.zero_()
        self.frame_count = 0
        return {"frame": self.frames, **self.status(), "panels": panels}

    # ------------------------------------------------------------------ runs
    def save_problem(self, panel: int = 0) -> str | None:
        """Why panel `panel` cannot be saved as a reproducible run, or None."""
        if not isinstance(self.group, SerialGroup):
            return "the seeds view trains batched; switch to the games or single view to save"
        if self.drawn is not None:
            return "a drawn distribution is not a data set `gankit train` knows"
        if self.opened:
            return "this session continues a run: continue that run with gankit train --resume"
        if self.deviation is not None:
            return f"this session left the serial run's path {self.deviation}; reset to save"
        if not self.records[panel]:
            return "train at least one whole epoch first"
        if scheduled(self.cfg) and len(self.records[panel]) > self.cfg.train.epochs:
            return ("instance noise's or the learning rates' decay ended at train.epochs; the "
                    "run cannot go beyond it")
        if not 0 <= panel < self.group.size:
            return f"no panel {panel}"
        return None

    def save(self, out: Path | None = None, panel: int = 0) -> Path:
        """Write panel `panel`'s completed epochs as a run folder: config.yaml (which `gankit
        train --config` trains to the same metrics), metrics.jsonl and the checkpoint of the
        last completed epoch (so `gankit train --resume` or `gankit lab --run` continue it)."""
        problem = self.save_problem(panel)
        if problem is not None:
            raise GankitError(f"cannot save as a run: {problem}")
        assert isinstance(self.group, SerialGroup)
        records, state = self.records[panel], self.snapshots[panel]
        assert state is not None and state["epoch"] == len(records)
        cfg = Config.from_dict(state["config"])
        if not scheduled(cfg):  # a schedule needs the planned epochs
            cfg.train.epochs = len(records)
        cfg.train.progress = False
        out = out or Path("runs") / f"lab-{cfg.loss.game}-{time.strftime('%Y%m%d-%H%M%S')}"
        prepare_run_dir(out, again="choose another folder")
        run_id = uuid.uuid4().hex[:16]
        folder = RunFolder(out, cfg, True, run_id)
        folder.open(0, {"device_used": "cpu", "precision_used": "fp32"})
        for record in records:
            folder.log(record)
        state = {**state, "config": cfg.to_dict()}
        folder.checkpoint(state, len(records))
        return out


def open_run(run: Path) -> LabSession:
    """A single-panel session continuing a toy run folder from its newest checkpoint (or
    from the start, with its config, when it has none)."""
    if not (run / "config.yaml").is_file():
        raise GankitError(f"{short(str(run), 200)} is not a run folder (no config.yaml); give "
                          "a folder `gankit train` wrote")
    cfg = Config.from_dict(read_config_file(run / "config.yaml"))
    check_lab_config(cfg)
    cfg.train.device, cfg.train.precision = "cpu", "fp32"
    state = None
    if ckpt.list_checkpoints(run):
        _, state = ckpt.latest_valid(run)
    return LabSession(cfg, mode="single", state=state)


def _with(cfg: Config, overrides: dict[str, Any]) -> Config:
    return apply_overrides(Config.from_dict(cfg.to_dict()), overrides)


def _check_seeds(seeds: Any) -> int:
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"seeds={short(seeds)}: give 1 to {MAX_SEEDS} seeds")
    return seeds


def _check_widths(cfg: Config) -> None:
    for name, widths in (("model.g_hidden", cfg.model.g_hidden),
                         ("model.d_hidden", cfg.model.d_hidden)):
        if not 1 <= len(widths) <= MAX_LAYERS or not all(1 <= w <= MAX_WIDTH for w in widths):
            raise ConfigError(f"{name}={widths}: the lab takes 1 to {MAX_LAYERS} layers of 1 "
                              f"to {MAX_WIDTH} units")
    if cfg.model.z_dim > 64:
        raise ConfigError(f"model.z_dim={cfg.model.z_dim}: the lab takes at most 64")


def _curve_games(games: list[Game]) -> list[Game]:
    """The notes' three games, then any other game a panel plays."""
    names = list(GENERATOR_GAMES) + [g.name for g in games if g.name not in GENERATOR_GAMES]
    return [get_game(n) for n in dict.fromkeys(names)]
