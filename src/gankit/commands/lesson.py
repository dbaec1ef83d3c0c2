"""`gankit lesson saturation|variance|kl --out FILE`: the guide's experiments, one each.

Each prints the numbers docs/theory.md quotes and writes the figure it shows.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Declare `gankit lesson saturation|variance|kl`."""
    parser = subparsers.add_parser(
        "lesson",
        help="small experiments that show the theory's claims (seconds on a CPU)",
        description="The experiments of docs/theory.md: each prints what it measured and "
        "writes a figure (.png or .svg).",
    )
    actions = parser.add_subparsers(dest="lesson", metavar="LESSON", required=True)
    sat = actions.add_parser(
        "saturation",
        help="G's gradient per game while D trains against a fixed, poor G",
        description="Hold a freshly initialised toy G fixed (its samples far from N(4, 0.5^2)), "
        "train D towards optimal and record the norm of G's gradient under each game.",
    )
    sat.add_argument("--out", required=True, help="figure file, .png or .svg")
    sat.add_argument("--seeds", type=int, default=10, help="number of seeds (default 10)")
    sat.add_argument("--d-steps", type=int, default=1000, help="D steps (default 1000)")
    var = actions.add_parser(
        "variance",
        help="share of G's gradient carried by the top 1%% of samples, per game",
        description="Train a toy GAN on ring2d with each game and measure, every few iterations, "
        "the share of G's gradient carried by the 1%% of samples with the largest one.",
    )
    var.add_argument("--out", required=True, help="figure file, .png or .svg")
    var.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    var.add_argument("--iterations", type=int, default=1500,
                     help="training iterations per run (default 1500)")
    var.add_argument("--every", type=int, default=100, help="measure every N iterations")
    kl = actions.add_parser(
        "kl",
        help="fit one Gaussian to two modes by minimising KL(p||q) and KL(q||p)",
        description="Mean-seeking against mode-seeking: one Gaussian fitted to a two-mode "
        "1-D mixture in each direction of the KL divergence (quadrature + scipy).",
    )
    kl.add_argument("--out", required=True, help="figure file, .png or .svg")
    parser.set_defaults(func=run)


def _stats(values: Any) -> str:
    import numpy as np

    return f"median {np.median(values):.3g} [{values.min():.3g}, {values.max():.3g}]"


def run(args: argparse.Namespace) -> int:
    """Run the chosen lesson, print its summary and write its figure."""
    from gankit import lesson
    from gankit.viz import lesson as lesson_plots
    from gankit.viz.plots import _check_suffix

    _check_suffix(Path(args.out))  # fail before the experiment, not after it
    if args.lesson == "saturation":
        lesson._check_positive("the number of seeds", args.seeds, "--seeds", lesson.MAX_SEEDS)
        res = lesson.saturation(seeds=tuple(range(args.seeds)), d_steps=args.d_steps)
        print(f"G's gradient norm over {args.seeds} seeds (median [min, max]); "
              f"mean D(G(z)) at the end: {_stats(res.d_fake[:, -1])}")
        for name in _games():
            g = res.grad_norm[name]
            print(f"  {name:<19} step 0: {_stats(g[:, 0])}   step {res.steps[-1]}: "
                  f"{_stats(g[:, -1])}")
        ok = res.holds()
        print(f"claim holds (at the end minimax >= 100x below non-saturating and >= 10x below "
              f"its start; non-saturating not below its start): {int(ok.sum())} of {ok.size} "
              "seeds")
        out = lesson_plots.plot_saturation(args.out, res)
    elif args.lesson == "variance":
        lesson._check_positive("the number of seeds", args.seeds, "--seeds", lesson.MAX_SEEDS)
        res = lesson.concentration(seeds=tuple(range(args.seeds)), iterations=args.iterations,
                                   every=args.every)
        print(f"share of G's gradient in the top 1% of samples, mean over iterations, "
              f"{args.seeds} seeds (median [min, max]):")
        means = {n: res.share[n][:, 1:].mean(axis=1) for n in _games()}
        for name in _games():
            w = res.weight_share[name][:, 1:].mean(axis=1)
            print(f"  {name:<19} gradient {_stats(means[name])}   |dJ/dl| weight {_stats(w)}")
        import numpy as np

        ml, others = means["maximum-likelihood"], np.maximum(means["minimax"],
                                                             means["non-saturating"])
        print(f"maximum likelihood's share above both other games: "
              f"{int((ml > others).sum())} of {ml.size} seeds")
        out = lesson_plots.plot_concentration(args.out, res)
    else:
        res = lesson.kl_fits()
        f = res.mean_seeking
        mean, std = res.mixture.moments()
        print(f"p = mixture of N(m, {res.mixture.std:g}^2), m in {list(res.mixture.means)}")
        print(f"  argmin KL(p||q): N({f.mean:.3f}, {f.std:.3f}^2)  (moments of p: "
              f"N({mean:.3f}, {std:.3f}^2))  KL(p||q) {f.kl_pq:.3f}  KL(q||p) {f.kl_qp:.3f}")
        for f in res.mode_seeking:
            print(f"  local min of KL(q||p): N({f.mean:.3f}, {f.std:.3f}^2)  "
                  f"KL(p||q) {f.kl_pq:.3f}  KL(q||p) {f.kl_qp:.3f}")
        out = lesson_plots.plot_kl(args.out, res)
    print(f"wrote {out}")
    return 0


def _games() -> tuple[str, ...]:
    """The notes' three generator games (imported when a lesson runs: `--help` stays light)."""
    from gankit.core.losses import GENERATOR_GAMES

    return GENERATOR_GAMES
