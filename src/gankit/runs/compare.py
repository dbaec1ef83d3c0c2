"""Side-by-side comparison of the generator games: same data, seeds and budget for each.

`compare` trains one run per (game, seed) with gankit.runs.loop.train and writes one folder:
  runs/<game>-seed<S>/   the runs themselves (config, metrics.jsonl, snapshots, checkpoint)
  samples.png            final samples, one row per game, one column per seed
  curves.png             training curves of all runs overlaid, one colour per game
  table.md, table.json   final-epoch metrics per game as mean ± std over seeds
  report.html            all of it on one self-contained page (`gankit report` rewrites it)
Mean and std are over seeds; std is the sample standard deviation (ddof = 1), 0 for one seed.
A metric that ended non-finite (NaN / inf) in a run is reported as such, never averaged away.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.config import build_config
from gankit.data.toy import get_toy, is_toy
from gankit.errors import ConfigError
from gankit.fileio import write_text_atomic
from gankit.log import read_metrics
from gankit.losses import GAMES, GENERATOR_GAMES, get_game

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
    """Game -> metric -> {mean, std, values}."""
    seconds: float
    table: str = field(default="")
    """The markdown table."""


def summarise(values: Sequence[float | None]) -> dict[str, Any]:
    """{mean, std, values}: sample std (ddof = 1; 0 for one value); None/NaN make mean NaN."""
    clean = [float("nan") if v is None else float(v) for v in values]
    arr = np.asarray(clean, dtype=np.float64)
    if arr.size == 0 or not np.isfinite(arr).all():
        mean, std = float("nan"), float("nan")
    else:
        mean = float(arr.mean())
        std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return {"mean": mean, "std": std, "values": clean}


def _fmt(stat: dict[str, Any], metric: str) -> str:
    mean, std = stat["mean"], stat["std"]
    if not math.isfinite(mean):
        bad = sum(1 for v in stat["values"] if not math.isfinite(v))
        return f"non-finite in {bad}/{len(stat['values'])} runs"
    if metric == "elapsed":
        return f"{mean:.1f} ± {std:.1f}"
    if metric == "modes_covered":
        return f"{mean:.2f} ± {std:.2f}"
    if abs(mean) >= 100:
        return f"{mean:.3g} ± {std:.2g}"
    return f"{mean:.3f} ± {std:.3f}"


METRIC_HEADERS = {
    "modes_covered": "modes covered",
    "hq_share": "high-quality share",
    "js_hist": "JS (hist, nats)",
    "js_hat": "JS_hat",
    "d_real": "D(x)",
    "d_fake": "D(G(z))",
    "loss_d": "D cost",
    "loss_g": "G cost",
    "dj_dl": "mean abs dJ/dl",
    "g_grad_norm": "G grad norm",
    "elapsed": "train s",
}


def markdown_table(summary: dict[str, dict[str, dict[str, Any]]], num_modes: int | None) -> str:
    """The summary as a markdown table: one row per game, mean ± std over seeds."""
    metrics = [m for m in TABLE_METRICS if any(m in s for s in summary.values())]
    head = []
    for m in metrics:
        text = METRIC_HEADERS.get(m, m)
        if m == "modes_covered" and num_modes is not None:
            text += f" (of {num_modes})"
        head.append(text)
    lines = ["| game | " + " | ".join(head) + " |", "|---|" + "---|" * len(metrics)]
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
    from gankit.models import generate
    from gankit.runs.checkpoint import load_generator
    from gankit.runs.toy import eval_latents, generate_toy

    g, cfg = load_generator(run_dir, "cpu")
    if toy_name is not None:
        return generate_toy(g, eval_latents(cfg.model.z_dim)).numpy()
    z = torch.randn(64, cfg.model.z_dim, generator=torch.Generator().manual_seed(0))
    return generate(g, z).numpy()


def compare(
    data: str,
    out: str | Path,
    games: Sequence[str] | None = None,
    seeds: int = 3,
    epochs: int | None = None,
    preset: str | None = None,
    overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> CompareResult:
    """Train every game in `games` with seeds 0..seeds-1 on `data`, then summarise.

    `preset` defaults to `toy` for toy data sets and `default` otherwise; `epochs` and
    `overrides` (dotted config keys) apply to every run alike, so the budget is the same.
    """
    from gankit.runs.loop import prepare_run_dir, train
    from gankit.viz.plots import plot_curves, plot_samples_side_by_side

    games = parse_games(games)
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds} must be at least 1, e.g. --seeds 3")
    toy = is_toy(data)
    preset = preset or ("toy" if toy else "default")
    common = dict(overrides or {})
    common.update({"data.dataset": data, "train.progress": False})
    if epochs is not None:
        common["train.epochs"] = epochs
    # Validate every run's config before training any of them.
    configs = {
        (game, seed): build_config(preset, None, {**common, "loss.game": game, "train.seed": seed})
        for game in games for seed in range(seeds)
    }
    out = prepare_run_dir(Path(out), again="a comparison always starts afresh: choose "
                          "another --out or remove that folder")
    start = time.perf_counter()
    runs: dict[str, list[Path]] = {g: [] for g in games}
    records: dict[str, list[list[dict[str, Any]]]] = {g: [] for g in games}
    for (game, seed), cfg in configs.items():
        t0 = time.perf_counter()
        run_dir = train(cfg, out / "runs" / f"{game}-seed{seed}", log=lambda _msg: None)
        recs = read_metrics(run_dir / "metrics.jsonl")
        runs[game].append(run_dir)
        records[game].append(recs)
        last = recs[-1]
        extra = f", modes {last['modes_covered']}/{last['num_modes']}" if toy else ""
        log(f"{game}, seed {seed}: {cfg.train.epochs} epochs in {time.perf_counter() - t0:.1f} s"
            f"{extra}, D(G(z)) {_num(last.get('d_fake'))}")

    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for game in games:
        finals = [recs[-1] for recs in records[game]]
        keys = [k for k in TABLE_METRICS if any(k in f for f in finals)]
        summary[game] = {k: summarise([f.get(k) for f in finals]) for k in keys}
    dist = get_toy(data) if toy else None
    table = markdown_table(summary, dist.num_modes if dist else None)
    seconds = time.perf_counter() - start
    cfg0 = next(iter(configs.values()))
    header = (f"# gankit compare: {data}, {seeds} seed(s), {cfg0.train.epochs} epochs "
              f"x {cfg0.train.batch_size} batch, preset {preset}\n\n"
              f"Final-epoch metrics, mean ± std over seeds (sample std). Wall time {seconds:.0f} s."
              "\n\n")
    write_text_atomic(out / "table.md", header + table)
    write_text_atomic(out / "table.json", json.dumps({
        "data": data, "preset": preset, "seeds": list(range(seeds)), "games": games,
        "epochs": cfg0.train.epochs, "batch_size": cfg0.train.batch_size,
        "overrides": {k: v for k, v in common.items() if k != "train.progress"},
        "seconds": seconds, "summary": _finite_or_none(summary),
    }, indent=2, allow_nan=False))

    panels = [(f"{game}, seed {s}", _final_samples(run_dir, data if toy else None))
              for game in games for s, run_dir in enumerate(runs[game])]
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
