"""`gankit plot time-to-quality RUN_DIR [RUN_DIR ...] --out FILE.png`."""

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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gankit.viz.timeplot import plot_time_to_quality

    out = plot_time_to_quality([Path(r) for r in args.runs], Path(args.out), args.key,
                               args.log_y)
    print(f"wrote {out}")
    return 0
