"""Pictures: the three games' comparison figure and toy-data snapshots.

Figures are drawn on a `matplotlib.figure.Figure` created here (Agg canvas), never through
pyplot, so no global state or GUI backend is touched and importing this module does nothing.
The curve data is computed by `games_curves` (a pure function, checked by tests); the
drawing functions only draw it. The output format follows the file suffix (.png or .svg).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.core.losses import GENERATOR_GAMES, get_game
from gankit.errors import ConfigError
from gankit.fileio import write_atomic
from gankit.stats import LOG_SCALE

FIGURE_FORMATS = (".png", ".svg")
"""File suffixes the drawing functions accept."""

GAME_LABELS = {
    "minimax": "Original: log(1 - D)",
    "non-saturating": "Non-saturating: -log D",
    "maximum-likelihood": "Maximum likelihood: -D / (1 - D)",
}
"""Legend labels of the figure, as in the review's figure."""

GAME_COLOURS = {
    "minimax": "tab:blue",
    "non-saturating": "tab:orange",
    "maximum-likelihood": "tab:green",
}

COST_YLIM = (-20.0, 5.0)
"""The y range of the cost panel, as in the review's figure."""


@dataclass(frozen=True)
class GamesCurves:
    """The figure's data: for each game, J(G) per sample and |dJ/dl| against D(G(z))."""

    d: np.ndarray
    """D(G(z)) values, strictly inside (0, 1), increasing."""
    cost: dict[str, np.ndarray]
    """Per-sample generator cost J of each game at `d`."""
    grad: dict[str, np.ndarray]
    """|dJ/dl| of each game at `d` (l = sigma^-1(D), the discriminator's logit)."""


def games_curves(num: int = 2001, eps: float = 1e-4, tail: float = 1e-12) -> GamesCurves:
    """The three games' per-sample costs and |dJ/dl| on `num` points of [eps, 1 - eps],
    plus log-spaced points down to `tail` and up to 1 - `tail`.

    The log-spaced ends let every curve leave the plot's y range instead of stopping in
    mid-air (log(1 - D) only reaches -20 at D = 1 - exp(-20), about 1 - 2e-9).
    Computed with gankit.core.losses (the costs on the logit l = log D - log(1 - D) and the
    closed-form dJ/dl), in float64, so the figure shows exactly what training uses.
    """
    assert num >= 2 and 0.0 < tail <= eps < 0.5
    d = torch.linspace(eps, 1.0 - eps, num, dtype=torch.float64)
    if tail < eps:
        decades = torch.linspace(math.log10(eps), math.log10(tail), 41, dtype=torch.float64)
        small = 10.0 ** decades[1:]  # (40,) from just below eps down to tail
        d = torch.cat([small.flip(0), d, 1.0 - small])
    logits = torch.log(d) - torch.log1p(-d)
    cost, grad = {}, {}
    for name in GENERATOR_GAMES:
        game = get_game(name)
        cost[name] = game.g_cost(logits).numpy()
        grad[name] = game.dj_dlogit(logits).abs().numpy()
    return GamesCurves(d.numpy(), cost, grad)


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in FIGURE_FORMATS:
        raise ConfigError(
            f"cannot write figure {str(path)!r}: unknown suffix {path.suffix!r}; "
            f"use one of {', '.join(FIGURE_FORMATS)}"
        )


def _save(fig, path: Path, dpi: int = 120) -> Path:  # noqa: ANN001 - matplotlib Figure
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lower().lstrip(".")
    write_atomic(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight"))
    return path


def _new_figure(width: float, height: float):  # noqa: ANN202 - matplotlib Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_games(path: str | Path, curves: GamesCurves | None = None) -> Path:
    """Draw the comparison figure of the three games to `path` (.png or .svg).

    Left: J(G) against D(G(z)), y in [-20, 5] as in the review. Right: |dJ/dl| on a log
    scale, where the three observations can be read off: minimax and maximum-likelihood
    gradients vanish at the left end, maximum-likelihood's grow without bound at the right
    end, non-saturating's are largest where samples look fake.
    """
    path = Path(path)
    _check_suffix(path)
    curves = curves or games_curves()
    fig = _new_figure(11.0, 4.2)
    ax_cost, ax_grad = fig.subplots(1, 2)
    for name in GENERATOR_GAMES:
        kw = {"color": GAME_COLOURS[name], "label": GAME_LABELS[name], "linewidth": 2}
        ax_cost.plot(curves.d, curves.cost[name], **kw)
        ax_grad.plot(curves.d, curves.grad[name], **kw)
    ax_cost.set_xlim(0.0, 1.0)
    ax_cost.set_ylim(*COST_YLIM)
    ax_cost.set_xlabel("D(G(z))")
    ax_cost.set_ylabel("J(G)")
    ax_cost.set_title("Generator cost of the three games")
    ax_cost.axhline(0.0, color="0.7", linewidth=0.8, zorder=0)
    ax_cost.legend(loc="lower left")
    ax_grad.set_xlim(0.0, 1.0)
    ax_grad.set_yscale("log")
    ax_grad.set_ylim(1e-4, 1e4)
    ax_grad.set_xlabel("D(G(z))")
    ax_grad.set_ylabel("|dJ/dl|  (l = logit of D)")
    ax_grad.set_title("Gradient per sample, log scale")
    ax_grad.grid(True, which="major", color="0.85", linewidth=0.6)
    ax_grad.legend(loc="upper center")
    return _save(fig, path)


def hist_with_overflow(ax: Any, values: np.ndarray, edges: np.ndarray, **style: Any) -> None:
    """A density histogram of `values` over `edges` that hides nothing outside them.

    Bars are the density of the whole sample (a bin's count / (N x width)), so the bars' area
    is the share inside the range; the shares below and above it are written at the edges
    with an arrow ("◀ 12% < -0.5"), never piled into the edge bins.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = float(edges[0]), float(edges[-1])
    finite = values[np.isfinite(values)]
    n = max(len(values), 1)
    inside = finite[(finite >= lo) & (finite <= hi)]
    weights = np.full(len(inside), 1.0 / (n * (edges[1] - edges[0])))
    ax.hist(inside, bins=edges, weights=weights, **style)
    below, above = int((finite < lo).sum()), int((finite > hi).sum())
    other = len(values) - len(finite)  # NaN / inf: generated, but nowhere on the axis
    color = style.get("color", "tab:green")
    for count, x, text, align in ((below, 0.01, f"◀ {{share}} < {lo:.3g}", "left"),
                                  (above, 0.99, f"{{share}} > {hi:.3g} ▶", "right")):
        if count:
            ax.text(x, 0.5, text.format(share=f"{100 * count / n:.3g}%"), color=color,
                    transform=ax.transAxes, ha=align, va="center", fontsize=8,
                    fontweight="bold", zorder=5,
                    bbox={"facecolor": "white", "edgecolor": color, "alpha": 0.9})
    if other:
        ax.text(0.5, 0.4, f"{100 * other / n:.3g}% not finite", color=color,
                transform=ax.transAxes, ha="center", va="center", fontsize=8, zorder=5,
                bbox={"facecolor": "white", "edgecolor": color, "alpha": 0.9})


def plot_snapshot_1d(
    path: str | Path,
    real: np.ndarray,
    fake: np.ndarray,
    xs: np.ndarray,
    d_of_x: np.ndarray,
    title: str = "",
    bins: int = 60,
) -> Path:
    """Histograms of real and generated 1-D samples with D(x) drawn over them.

    Like figure 1 of the GAN paper: data density (black), generated density (green),
    discriminator output D(x) (blue, dashed) on a shared x axis; `xs` is D's grid.
    """
    path = Path(path)
    _check_suffix(path)
    real, fake = np.asarray(real).ravel(), np.asarray(fake).ravel()
    lo = min(float(xs.min()), float(real.min()))
    hi = max(float(xs.max()), float(real.max()))
    edges = np.linspace(lo, hi, bins + 1)
    fig = _new_figure(6.0, 3.6)
    ax = fig.subplots()
    ax.hist(real, bins=edges, density=True, histtype="step", color="black", linewidth=1.5,
            label="data")
    hist_with_overflow(ax, fake, edges, histtype="stepfilled", alpha=0.4, color="tab:green",
                       label="generated")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax_d = ax.twinx()
    ax_d.plot(xs, d_of_x, "--", color="tab:blue", label="D(x)")
    ax_d.set_ylim(0.0, 1.05)
    ax_d.set_ylabel("D(x)")
    handles = ax.get_legend_handles_labels()
    handles_d = ax_d.get_legend_handles_labels()
    ax.legend(handles[0] + handles_d[0], handles[1] + handles_d[1], loc="upper left")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_snapshot_2d(
    path: str | Path,
    real: np.ndarray,
    fake: np.ndarray,
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    d_grid: np.ndarray,
    title: str = "",
) -> Path:
    """Real (black) and generated (green) 2-D points over D's contour map D(x) in [0, 1]."""
    path = Path(path)
    _check_suffix(path)
    fig = _new_figure(5.0, 4.4)
    ax = fig.subplots()
    _draw_2d(ax, real, fake, grid_x, grid_y, d_grid, colorbar=True)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def _draw_2d(ax, real, fake, grid_x, grid_y, d_grid, colorbar: bool = False) -> None:  # noqa: ANN001
    levels = np.linspace(0.0, 1.0, 11)
    cs = ax.contourf(grid_x, grid_y, d_grid, levels=levels, cmap="RdBu_r", alpha=0.55)
    if colorbar:
        ax.figure.colorbar(cs, ax=ax, label="D(x)")
    ax.scatter(real[:, 0], real[:, 1], s=3, c="black", alpha=0.5, label="data")
    ax.scatter(fake[:, 0], fake[:, 1], s=3, c="tab:green", alpha=0.5, label="generated")
    ax.set_aspect("equal")
    ax.set_xlim(float(grid_x.min()), float(grid_x.max()))
    ax.set_ylim(float(grid_y.min()), float(grid_y.max()))


def plot_samples_side_by_side(
    path: str | Path,
    panels: Sequence[tuple[str, np.ndarray]],
    real: np.ndarray | None = None,
    limits: tuple[float, float] | None = None,
    cols: int = 3,
) -> Path:
    """One panel per (title, generated samples) over the real samples; 1-D or 2-D samples.

    2-D: scatter of real (black) and generated (green) points. 1-D: histograms.
    Images (N, C, H, W) are shown as a 8x8 grid of the first 64 samples, in [-1, 1]
    (`real` may be None). Panels fill rows of `cols`.
    """
    path = Path(path)
    _check_suffix(path)
    n = len(panels)
    assert n >= 1
    cols = max(1, min(n, cols))
    rows = (n + cols - 1) // cols
    fig = _new_figure(3.6 * cols, 3.4 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    real = None if real is None else np.asarray(real)
    for ax, (title, fake) in zip(axes, panels, strict=False):
        fake = np.asarray(fake)
        if fake.ndim == 2 and fake.shape[1] == 2:
            assert real is not None
            ax.scatter(real[:, 0], real[:, 1], s=2, c="black", alpha=0.3)
            ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:green", alpha=0.5)
            ax.set_aspect("equal")
            if limits is not None:
                ax.set_xlim(*limits)
                ax.set_ylim(*limits)
        elif fake.ndim == 2 and fake.shape[1] == 1:
            assert real is not None
            lo, hi = limits if limits is not None else (
                float(min(real.min(), fake.min())), float(max(real.max(), fake.max())))
            edges = np.linspace(lo, hi, 61)
            ax.hist(real.ravel(), bins=edges, density=True, histtype="step", color="black")
            hist_with_overflow(ax, fake, edges, alpha=0.5, color="tab:green")
        else:
            ax.imshow(_image_grid(fake[:64]), cmap="gray", vmin=-1.0, vmax=1.0)
            ax.axis("off")
        ax.set_title(title, fontsize=9)
    for ax in axes[n:]:
        ax.axis("off")
    return _save(fig, path)


def _image_grid(images: np.ndarray, cols: int = 8) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> one (rows*H, cols*W) array (first channel; pad with -1)."""
    n, _, h, w = images.shape
    rows = (n + cols - 1) // cols
    out = np.full((rows * h, cols * w), -1.0, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * h:(r + 1) * h, c * w:(c + 1) * w] = images[i, 0]
    return out


def plot_curves(
    path: str | Path,
    runs: Sequence[tuple[str, Sequence[dict]]],
    keys: Sequence[str],
    x_key: str = "epoch",
) -> Path:
    """Training curves of several runs overlaid: one panel per metric key.

    `runs` holds (label, records) with records the per-epoch dicts of a metrics log; runs
    with the same label prefix before '/' (the game) share a colour.
    """
    path = Path(path)
    _check_suffix(path)
    keys = [k for k in keys if any(k in r for _, recs in runs for r in recs)]
    assert keys, "no metric key to plot"
    cols = min(len(keys), 3)
    rows = (len(keys) + cols - 1) // cols
    fig = _new_figure(4.2 * cols, 3.2 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    groups: dict[str, str] = {}
    for label, _ in runs:
        group = label.split("/")[0]
        groups.setdefault(group, GAME_COLOURS.get(group, palette[len(groups) % len(palette)]))
    for ax, key in zip(axes, keys, strict=False):
        seen = set()
        for label, records in runs:
            pts = [(r[x_key], r[key]) for r in records if key in r and r[key] is not None]
            if not pts:
                continue
            group = label.split("/")[0]
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, color=groups[group], alpha=0.8, linewidth=1.2,
                    label=group if group not in seen else None)
            seen.add(group)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel(x_key)
        if key in LOG_SCALE:  # they span orders of magnitude
            ax.set_yscale("log")
    axes[0].legend(fontsize=8)
    for ax in axes[len(keys):]:
        ax.axis("off")
    return _save(fig, path)


def plot_points(path: str | Path, samples: np.ndarray, title: str = "") -> Path:
    """Generated toy samples alone: a histogram (1-D, (N, 1)) or a scatter plot (2-D, (N, 2))."""
    path = Path(path)
    _check_suffix(path)
    assert samples.ndim == 2 and samples.shape[1] in (1, 2), samples.shape
    fig = _new_figure(5.0, 4.4)
    ax = fig.subplots()
    if samples.shape[1] == 1:
        ax.hist(samples[:, 0], bins=60, color="tab:green", alpha=0.8)
        ax.set_xlabel("x")
        ax.set_ylabel("count")
    else:
        ax.scatter(samples[:, 0], samples[:, 1], s=4, c="tab:green", alpha=0.6)
        ax.set_aspect("equal")
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    ax.set_title(title or f"{len(samples)} generated samples")
    return _save(fig, path)
