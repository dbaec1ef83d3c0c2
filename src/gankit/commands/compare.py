"""`gankit compare`: train the generator games side by side and tabulate the result."""

from __future__ import annotations

import argparse

from gankit import datasets


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Declare `gankit compare`."""
    p = subparsers.add_parser(
        "compare",
        help="train the games side by side (same data, seeds, budget) and compare them",
        description="Train each chosen game with seeds 0..N-1 on one data set, then write "
        "samples side by side, overlaid training curves and a table of final metrics "
        "(mean and 95% t-interval over seeds). On a toy set each game's seeds train at "
        "once as one batched model.",
    )
    p.add_argument("--data", required=True, metavar="NAME",
                   help="data set: " + ", ".join(datasets.DATASETS))
    p.add_argument("--seeds", type=int, default=3, metavar="N",
                   help="seeds per game, 0..N-1 (default 3)")
    p.add_argument("--losses", metavar="GAMES",
                   help="comma-separated games (default: minimax,non-saturating,"
                   "maximum-likelihood)")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs per run (default: preset's)")
    p.add_argument("--preset", metavar="NAME",
                   help="starting config (default: " + ", ".join(
                       f"{s.compare_preset} for {s.name}" for s in datasets.DATASETS.values()
                       if s.compare_preset) + ", toy for other toy sets, default for images)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key for every run, e.g. --set train.lr_g=5e-4")
    p.add_argument("--serial", action="store_true",
                   help="train toy runs one at a time with the full training loop (its "
                   "checkpoints, snapshots and reports per run) instead of batched")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default runs/compare-<data>-<time>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the comparison and print its table."""
    from gankit.api import compare
    from gankit.commands.train import parse_sets

    overrides = parse_sets(args.set)  # as `gankit train --set` reads them
    result = compare(args.data, games=args.losses, seeds=args.seeds, epochs=args.epochs,
                     out=args.out, preset=args.preset, overrides=overrides,
                     batched=not args.serial)
    print(result.table, end="")
    return 0
