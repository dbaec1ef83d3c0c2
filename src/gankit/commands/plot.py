"""`gankit plot time-to-quality RUN_DIR [RUN_DIR ...] --out FILE.png` and
`gankit plot progression RUN_DIR [--epochs 1,50,100,400] --out FILE.png`."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="plots from run folders' metrics logs",
                       description="Plots from run folders' metrics logs.")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    q = kinds.add_parser("time-to-quality",
                         help="a quality metric (FID) against training wall-clock seconds")
    q.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folder(s), one line each")
    q.add_argument("--out", required=True, metavar="FILE", help="figure file (.png, .svg, .pdf)")
    q.add_argument("--key", default="fid", help="metric key in metrics.jsonl (default fid)")
    q.add_argument("--log-y", action="store_true", help="logarithmic y axis")
    r = kinds.add_parser("progression", help="a run's sample grids in one captioned row")
    r.add_argument("run", metavar="RUN_DIR", help="run folder (its samples/epoch_*.png)")
    r.add_argument("--epochs", help="comma-separated epochs (default: every grid the run has)")
    r.add_argument("--out", required=True, metavar="FILE", help="figure file (.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Draw the asked plot and say where it went."""
    if args.kind == "progression":
        return _progression(args)
    from gankit.viz.timeplot import plot_time_to_quality

    out = plot_time_to_quality([Path(r) for r in args.runs], Path(args.out), args.key,
                               args.log_y)
    print(f"wrote {out}")
    return 0


def _progression(args: argparse.Namespace) -> int:
    from gankit.errors import ConfigError
    from gankit.fileio import refuse_overwrite
    from gankit.report.read import grid_ok
    from gankit.viz.animate import progress_strip

    grids = {int(p.stem.removeprefix("epoch_")): p  # grid_ok: no pipe, no PNG bomb
             for p in sorted((Path(args.run) / "samples").glob("epoch_[0-9][0-9][0-9][0-9].png"))
             if grid_ok(p)}
    if not grids:
        raise ConfigError(f"run {args.run!r} has no samples/epoch_*.png grids; give a run folder")
    if args.epochs:
        try:
            wanted = [int(e) for e in args.epochs.split(",") if e.strip()]
        except ValueError:
            raise ConfigError(f"--epochs {args.epochs!r} must be comma-separated integers, "
                              "e.g. --epochs 1,50,100") from None
        missing = [e for e in wanted if e not in grids]
        if missing:
            raise ConfigError(f"run {args.run!r} has no grid of epoch(s) "
                              f"{', '.join(map(str, missing))}; it has "
                              f"{', '.join(map(str, grids))}")
        grids = {e: grids[e] for e in wanted}
    refuse_overwrite(args.out, list(grids.values()))  # never over a grid it reads
    out = progress_strip(list(grids.values()), Path(args.out))
    print(f"wrote {out}")
    return 0
