"""`gankit games plot --out FILE`: the comparison figure of the three generator games."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Declare `gankit games plot`."""
    parser = subparsers.add_parser(
        "games",
        help="the three generator games: plot their costs and gradients",
        description="The original minimax, non-saturating and maximum-likelihood games.",
    )
    actions = parser.add_subparsers(dest="games_action", metavar="ACTION", required=True)
    plot = actions.add_parser(
        "plot",
        help="draw J(G) and |dJ/dl| against D(G(z)) for the three games",
        description="Draw the review's figure: J(G) against D(G(z)) (y from -20 to 5) and "
        "|dJ/dl| on a log scale. The format follows the suffix: .png or .svg.",
    )
    plot.add_argument("--out", required=True, help="output file, .png or .svg")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Draw the figure and print where it went."""
    from gankit.api import games_plot  # matplotlib and torch: only when drawing

    games_plot(args.out)
    print(f"wrote {args.out}")
    return 0
