"""The theory guide's figures (gankit.lesson's results): G's gradient norm against D's steps,
the share of the gradient carried by the top samples, and the two KL fits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gankit.core.losses import GENERATOR_GAMES
from gankit.lesson import TOP_SHARE, ConcentrationResult, KLResult, SaturationResult, normal_logpdf


def _band(ax, x: np.ndarray, values: np.ndarray, colour: str, label: str,  # noqa: ANN001
          style: str = "-") -> None:
    """Median line and the min-max band over seeds."""
    ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=colour, alpha=0.2,
                    linewidth=0)
    ax.plot(x, np.median(values, axis=0), style, color=colour, label=label, linewidth=2)


def plot_saturation(path: str | Path, result: SaturationResult) -> Path:
    """G's gradient norm (log) and mean D(G(z)) against D steps; median and range over seeds."""
    from gankit.viz.plots import GAME_COLOURS, _check_suffix, _new_figure, _save

    path = Path(path)
    _check_suffix(path)
    x = np.maximum(result.steps, 0.5)  # step 0 drawn at 0.5 on the log axis
    fig = _new_figure(10.0, 3.8)
    ax, ax_d = fig.subplots(1, 2)
    # minimax last and dashed: once D(G(z)) is small, D/(1-D) ~ D and the two curves meet
    for name in ("non-saturating", "maximum-likelihood", "minimax"):
        _band(ax, x, result.grad_norm[name], GAME_COLOURS[name], name,
              "--" if name == "minimax" else "-")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("D steps against a fixed G (step 0 drawn at 0.5)")
    ax.set_ylabel("||dJ/dθ_G||")
    ax.set_title(f"G's gradient as D improves ({len(result.seeds)} seeds: median, range)")
    ax.grid(True, which="major", color="0.85", linewidth=0.6)
    ax.legend(loc="lower left")
    _band(ax_d, x, result.d_fake, "0.3", "mean D(G(z))")
    ax_d.set_xscale("log")
    ax_d.set_yscale("log")
    ax_d.set_xlabel("D steps")
    ax_d.set_ylabel("mean D(G(z))")
    ax_d.set_title("D grows sure the fakes are fake")
    ax_d.grid(True, which="major", color="0.85", linewidth=0.6)
    return _save(fig, path, dpi=90)


def plot_concentration(path: str | Path, result: ConcentrationResult) -> Path:
    """Share of G's gradient in the top 1% of samples, per game, over training."""
    from gankit.viz.plots import GAME_COLOURS, _check_suffix, _new_figure, _save

    path = Path(path)
    _check_suffix(path)
    fig = _new_figure(10.0, 3.8)
    ax, ax_d = fig.subplots(1, 2)
    for name in GENERATOR_GAMES:
        _band(ax, result.iterations, result.share[name], GAME_COLOURS[name], name)
        _band(ax_d, result.iterations, result.d_fake[name], GAME_COLOURS[name], name)
    ax.axhline(TOP_SHARE, color="0.5", linestyle=":", linewidth=1)
    ax.text(result.iterations[-1], TOP_SHARE, "equal shares", ha="right", va="bottom",
            color="0.4", fontsize=8)
    top = max(float(result.share[n].max()) for n in GENERATOR_GAMES)
    ax.set_ylim(0.0, min(1.0, 1.15 * top))
    ax.set_xlabel("training iteration")
    ax.set_ylabel("share of G's gradient")
    ax.set_title(f"Top 1% of samples ({len(result.seeds)} seeds: median, range)")
    ax.legend(loc="upper right")
    ax_d.set_ylim(0.0, 1.0)
    ax_d.set_xlabel("training iteration")
    ax_d.set_ylabel("mean D(G(z))")
    ax_d.set_title("Where on the cost curve the fakes sit")
    return _save(fig, path, dpi=90)


def plot_kl(path: str | Path, result: KLResult) -> Path:
    """The mixture p and the two Gaussian fits, with both KL values of each."""
    from gankit.viz.plots import _check_suffix, _new_figure, _save

    path = Path(path)
    _check_suffix(path)
    x, p = result.x, np.exp(result.mixture.log_density(result.x))
    keep = (x >= -6) & (x <= 6)
    fig = _new_figure(7.0, 3.8)
    ax = fig.subplots()
    ax.fill_between(x[keep], p[keep], color="0.8", label="p: two-mode mixture")
    fits = [("tab:blue", "argmin KL(p||q): mean-seeking", result.mean_seeking)]
    fits.append(("tab:red", "argmin KL(q||p): mode-seeking", result.mode_seeking[0]))
    for colour, label, f in fits:
        q = np.exp(normal_logpdf(x, f.mean, f.std))
        ax.plot(x[keep], q[keep], color=colour, linewidth=2,
                label=f"{label}\n  N({f.mean:.2f}, {f.std:.2f}²); KL(p||q) {f.kl_pq:.2f}, "
                f"KL(q||p) {f.kl_qp:.2f}")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_ylim(0, 1.2 * max(float(p.max()), 0.8))
    ax.set_title("One Gaussian fitted to two modes, in each direction of KL")
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path, dpi=90)
