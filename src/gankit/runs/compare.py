"""Side-by-side comparison of the generator games: same data, seeds and budget for each.

On a toy data set `compare` trains each game's seeds at once as one batched model
(gankit.runs.batched); elsewhere, or with `batched=False` (`--serial`), it trains one run per
(game, seed) with gankit.runs.loop.train. It writes one folder:
  runs/<game>-seed<S>/   the runs: config.yaml and metrics.jsonl (serial runs also their
                         snapshots, checkpoint and report; batched runs have neither)
  samples.png            final samples, one row per game, one column per seed
  curves.png             training curves of all runs overlaid, one colour per game
  table.md, table.json   final-epoch metrics per game: mean and 95% interval over seeds
  report.html            all of it on one self-contained page (`gankit report` rewrites it)
The interval is Student's t: mean ± t(0.975, n - 1) sd / sqrt(n), sd the sample standard
deviation (ddof = 1), over the n seeds; one seed has no interval. A metric that ended
non-finite (NaN / inf) in a run is reported as such, never averaged away.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.config import build_config
from gankit.core.losses import GAMES, GENERATOR_GAMES, get_game
from gankit.data.toy import get_toy
from gankit.datasets import is_toy
from gankit.errors import ConfigError, short
from gankit.fileio import write_text_atomic
from gankit.log import read_metrics
from gankit.stats import BY_KEY

TABLE_METRICS = (
    "modes_covered", "hq_share", "js_hist", "js_hat", "d_real", "d_fake",
    "loss_d", "loss_g", "dj_dl", "g_grad_norm", "elapsed",
)
"""Final-epoch metrics put in the table, in this order (those the runs logged)."""

CURVE_METRICS = (
    "modes_covered", "hq_share", "js_hist", "js_hat", "d_real", "d_fake",
    "loss_d", "loss_g", "dj_dl", "g_grad_norm",
)
"""Per-epoch metrics drawn in curves.png (those the runs logged)."""


@dataclass
class CompareResult:
    """What a comparison produced: where, the per-run final records and the summary."""

    out: Path
    runs: dict[str, list[Path]]
    """Game -> run folders, one per seed."""
    summary: dict[str, dict[str, dict[str, Any]]]
    """Game -> metric -> summarise()'s {mean, std, ci95, lo, hi, n, values}."""
    seconds: float
    table: str = field(default="")
    """The markdown table."""


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """(mean, half-width) of the Student's t interval mean ± t((1 + level) / 2, n - 1) sd /
    sqrt(n) over finite `values` (sd with ddof = 1); None for fewer than two values."""
    from scipy.stats import t as student_t

    arr = np.asarray(values, dtype=np.float64)
    if arr.size < 2:
        return None
    sd = float(arr.std(ddof=1))
    return float(arr.mean()), float(student_t.ppf((1 + level) / 2, arr.size - 1)) * sd / \
        math.sqrt(arr.size)


def summarise(values: Sequence[float | None]) -> dict[str, Any]:
    """{mean, std, ci95, lo, hi, n, values}: sample std (ddof = 1; 0 for one value); ci95 the
    half-width of the 95% t-interval and [lo, hi] the interval (None for one value);
    None/NaN make every statistic NaN."""
    clean = [float("nan") if v is None else float(v) for v in values]
    arr = np.asarray(clean, dtype=np.float64)
    nan = float("nan")
    out: dict[str, Any] = {"mean": nan, "std": nan, "ci95": nan, "lo": nan, "hi": nan,
                           "n": len(clean), "values": clean}
    if arr.size and np.isfinite(arr).all():
        out["mean"] = float(arr.mean())
        out["std"] = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        interval = t_interval(clean)
        if interval is None:
            out["ci95"] = out["lo"] = out["hi"] = None
        else:
            out["ci95"] = interval[1]
            out["lo"], out["hi"] = out["mean"] - interval[1], out["mean"] + interval[1]
    return out


def _fmt(stat: dict[str, Any], metric: str) -> str:
    """'mean ± half-width of the 95% interval' (one seed: the value alone)."""
    mean, half = stat["mean"], stat.get("ci95")
    if not math.isfinite(mean):
        bad = sum(1 for v in stat["values"] if not math.isfinite(v))
        return f"non-finite in {bad}/{len(stat['values'])} runs"
    if metric == "elapsed":
        text, spec = f"{mean:.1f}", ".1f"
    elif metric == "modes_covered":
        text, spec = f"{mean:.2f}", ".2f"
    elif abs(mean) >= 100:
        text, spec = f"{mean:.3g}", ".2g"
    else:
        text, spec = f"{mean:.3f}", ".3f"
    return text if half is None else f"{text} ± {half:{spec}}"


def markdown_table(summary: dict[str, dict[str, dict[str, Any]]], num_modes: int | None) -> str:
    """The summary as a markdown table: one row per game, mean ± 95% t-interval over seeds."""
    metrics = [m for m in TABLE_METRICS if any(m in s for s in summary.values())]
    head = []
    for m in metrics:
        text = BY_KEY[m].label.replace("|", "\\|") if m in BY_KEY else m  # | ends a cell
        if m == "modes_covered" and num_modes is not None:
            text += f" (of {num_modes})"
        head.append(text)
    n = max((st.get("n", 0) for stats in summary.values() for st in stats.values()), default=0)
    first = (f"game (mean ± 95% t-interval, {n} seeds)" if n > 1
             else "game (one seed, no interval)")
    lines = [f"| {first} | " + " | ".join(head) + " |", "|---|" + "---|" * len(metrics)]
    for game, stats in summary.items():
        cells = [_fmt(stats[m], m) if m in stats else "" for m in metrics]
        if game in GAMES and not GAMES[game].probabilistic:  # D(x) columns hold mean scores
            cells = [c + " (score)" if m in ("d_real", "d_fake") and c else c
                     for m, c in zip(metrics, cells, strict=True)]
        lines.append(f"| {game} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parse_games(text: str | Sequence[str] | None) -> list[str]:
    """'minimax,maximum-likelihood' (or a list) -> checked game names; None -> all three."""
    if text is None:
        return list(GENERATOR_GAMES)
    names = text.split(",") if isinstance(text, str) else list(text)
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise ConfigError("--losses is empty; give game names, e.g. minimax,non-saturating")
    for n in names:
        get_game(n)
    if len(set(names)) != len(names):
        raise ConfigError(f"--losses {','.join(names)} names a game twice; list each once")
    return names


def _final_samples(run_dir: Path, toy_name: str | None) -> np.ndarray:
    """Samples of a finished run's generator: the toy evaluation latents, or 64 images."""
    from gankit.core.models import generate
    from gankit.runs.checkpoint import load_generator
    from gankit.runs.toy import eval_latents, generate_toy

    g, cfg = load_generator(run_dir, "cpu")
    if toy_name is not None:
        return generate_toy(g, eval_latents(cfg.model.z_dim)).numpy()
    z = torch.randn(64, cfg.model.z_dim, generator=torch.Generator().manual_seed(0))
    return generate(g, z).numpy()


def default_preset(data: str) -> str:
    """The preset `compare` uses for `data` when no --preset is given: the data set's
    `compare_preset` (gankit.datasets), else `toy` for a toy set and `default` for images."""
    from gankit import datasets

    spec = datasets.DATASETS.get(data)
    if spec is not None and spec.compare_preset:
        return spec.compare_preset
    return "toy" if is_toy(data) else "default"


MAX_SEEDS = 100
"""Most seeds per game of one comparison (each seed is a whole training run)."""


def compare(
    data: str,
    out: str | Path,
    games: Sequence[str] | None = None,
    seeds: int = 3,
    epochs: int | None = None,
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    batched: bool = True,
) -> CompareResult:
    """Train every game in `games` with seeds 0..seeds-1 on `data`, then summarise.

    `preset` defaults to `default_preset(data)`; `epochs` and `overrides` (dotted config
    keys) apply to every run alike, so the budget is the same. On a toy set each game's seeds
    train at once as one batched model (gankit.runs.batched) unless `batched` is False.
    """
    from gankit.runs.loop import prepare_run_dir
    from gankit.viz.plots import plot_curves, plot_samples_side_by_side

    games = parse_games(games)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"--seeds {short(seeds, 40)} must be a whole number in "
                          f"1..{MAX_SEEDS}, e.g. --seeds 3")
    toy = is_toy(data)
    preset = preset or default_preset(data)
    common = dict(overrides or {})
    common.update({"data.dataset": data, "train.progress": False})
    if epochs is not None:
        common["train.epochs"] = epochs
    # Validate every run's config before training any of them.
    configs = {
        (game, seed): build_config(preset, None, {**common, "loss.game": game, "train.seed": seed})
        for game in games for seed in range(seeds)
    }
    batched = batched and toy
    if batched:
        from gankit.runs.batched import check_batchable

        for game in games:
            check_batchable([configs[(game, s)] for s in range(seeds)])
    out = prepare_run_dir(Path(out), again="a comparison always starts afresh: choose "
                          "another --out or remove that folder")
    start = time.perf_counter()
    train_runs = _train_batched if batched else _train_serial
    runs, records, finals = train_runs(configs, games, seeds, out, log)

    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for game in games:
        last = [recs[-1] if recs else {} for recs in records[game]]
        keys = [k for k in TABLE_METRICS if any(k in f for f in last)]
        summary[game] = {k: summarise([f.get(k) for f in last]) for k in keys}
    dist = get_toy(data) if toy else None
    table = markdown_table(summary, dist.num_modes if dist else None)
    seconds = time.perf_counter() - start
    cfg0 = next(iter(configs.values()))
    how = (f"{seeds} seeds of a game trained at once (batched)" if batched
           else "one run at a time (serial)")
    interval = ("mean ± half-width of the 95% Student's t interval over seeds, "
                "mean ± t(0.975, n-1) sd / sqrt(n)" if seeds > 1
                else "one seed: its values, no interval")
    header = (f"# gankit compare: {data}, {seeds} seed(s), {cfg0.train.epochs} epochs "
              f"x {cfg0.train.batch_size} batch, preset {preset}\n\n"
              f"Final-epoch metrics, {interval}. {how.capitalize()}; wall time {seconds:.0f} s."
              "\n\n")
    write_text_atomic(out / "table.md", header + table)
    write_text_atomic(out / "table.json", json.dumps({
        "data": data, "preset": preset, "seeds": list(range(seeds)), "games": games,
        "epochs": cfg0.train.epochs, "batch_size": cfg0.train.batch_size,
        "overrides": {k: v for k, v in common.items() if k != "train.progress"},
        "batched": batched, "interval": "95% Student's t: mean ± t(0.975, n-1) sd / sqrt(n)",
        "seconds": seconds, "summary": _finite_or_none(summary),
    }, indent=2, allow_nan=False))

    panels = [(f"{game}, seed {s}", finals[game][s]) for game in games for s in range(seeds)]
    real, limits = None, None
    if dist is not None:
        from gankit.runs.toy import reference_sample

        real, limits = reference_sample(dist).numpy(), dist.extent()
    plot_samples_side_by_side(out / "samples.png", panels, real, limits=limits, cols=seeds)
    curve_runs = [(f"{game}/seed{s}", recs) for game in games
                  for s, recs in enumerate(records[game])]
    plot_curves(out / "curves.png", curve_runs, CURVE_METRICS)
    seconds = time.perf_counter() - start
    log(f"wrote {out / 'table.md'}, table.json, samples.png, curves.png in {seconds:.0f} s")
    from gankit.report.page import try_write_report

    try_write_report(out, log)
    return CompareResult(out, runs, summary, seconds, table)


Trained = tuple[dict[str, list[Path]], dict[str, list[list[dict[str, Any]]]],
                dict[str, list[np.ndarray]]]
"""Per game: the run folders, each run's metrics records and its final samples."""


def _train_serial(configs: dict[tuple[str, int], Any], games: Sequence[str], seeds: int,
                  out: Path, log: Callable[[str], None]) -> Trained:
    """One run per (game, seed) with gankit.runs.loop.train, one after another."""
    from gankit.runs.loop import train

    toy = is_toy(next(iter(configs.values())).data.dataset)
    runs: dict[str, list[Path]] = {g: [] for g in games}
    records: dict[str, list[list[dict[str, Any]]]] = {g: [] for g in games}
    finals: dict[str, list[np.ndarray]] = {g: [] for g in games}
    for (game, seed), cfg in configs.items():
        t0 = time.perf_counter()
        run_dir = train(cfg, out / "runs" / f"{game}-seed{seed}", log=lambda _msg: None)
        recs = read_metrics(run_dir / "metrics.jsonl")
        runs[game].append(run_dir)
        records[game].append(recs)
        finals[game].append(_final_samples(run_dir, cfg.data.dataset if toy else None))
        last = recs[-1]
        extra = f", modes {last['modes_covered']}/{last['num_modes']}" if toy else ""
        log(f"{game}, seed {seed}: {cfg.train.epochs} epochs in {time.perf_counter() - t0:.1f} s"
            f"{extra}, D(G(z)) {_num(last.get('d_fake'))}")
    return runs, records, finals


def _train_batched(configs: dict[tuple[str, int], Any], games: Sequence[str], seeds: int,
                   out: Path, log: Callable[[str], None]) -> Trained:
    """Each game's seeds at once (gankit.runs.batched); each run's folder gets config.yaml
    and metrics.jsonl through RunFolder, as a serial run writes them."""
    from gankit.runs.batched import train_seeds
    from gankit.runs.folder import RunFolder
    from gankit.runtime.device import resolve_device

    device = resolve_device(next(iter(configs.values())).train.device)  # as the trainer's

    runs: dict[str, list[Path]] = {g: [] for g in games}
    records: dict[str, list[list[dict[str, Any]]]] = {g: [] for g in games}
    finals: dict[str, list[np.ndarray]] = {g: [] for g in games}
    for game in games:
        cfgs = [configs[(game, s)] for s in range(seeds)]
        t0 = time.perf_counter()
        per_seed, fake = train_seeds(cfgs, log=lambda _msg: None)
        for seed, (cfg, recs) in enumerate(zip(cfgs, per_seed, strict=True)):
            run_dir = out / "runs" / f"{game}-seed{seed}"
            run_dir.mkdir(parents=True, exist_ok=True)
            folder = RunFolder(run_dir, cfg, run_id=uuid.uuid4().hex[:16])
            folder.open(0, {"device_used": str(device), "precision_used": "fp32",
                            "trained_by": f"gankit.runs.batched ({seeds} seeds at once)"})
            for record in recs:
                folder.log(record)
            runs[game].append(run_dir)
            records[game].append(recs)
            finals[game].append(fake[seed])
        modes = [recs[-1]["modes_covered"] for recs in per_seed]
        bad = sum(1 for recs in per_seed if not all(
            math.isfinite(recs[-1].get(k, 0.0)) for k in ("loss_d", "loss_g")))
        log(f"{game}: {seeds} seeds x {cfgs[0].train.epochs} epochs batched in "
            f"{time.perf_counter() - t0:.1f} s, modes {min(modes)}..{max(modes)} of "
            f"{per_seed[0][-1]['num_modes']} (mean {np.mean(modes):.2f})"
            + (f", {bad} seed(s) non-finite" if bad else ""))
    return runs, records, finals


def _finite_or_none(obj: Any) -> Any:
    """Replace NaN / inf by None, recursively, so table.json is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite_or_none(v) for v in obj]
    return obj


def _num(value: Any) -> str:
    return "nan" if value is None else f"{value:.2f}"
