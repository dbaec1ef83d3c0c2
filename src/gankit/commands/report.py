"""`gankit report`: one self-contained HTML page of a run (or comparison) folder."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write the HTML report of a run or comparison folder",
        description="Write one self-contained HTML page (images embedded, no network needed) "
                    "with the config, sample grids, training curves and evaluation of a run; "
                    "for a comparison folder, the side-by-side table and overlaid curves. "
                    "A run's report also writes RUN_DIR/progress.gif.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder (or comparison folder)")
    p.add_argument("--out", metavar="FILE.html", default=None,
                   help="where to write the page (default RUN_DIR/report.html)")
    p.add_argument("--no-gif", action="store_true", help="do not write RUN_DIR/progress.gif")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gankit.report.page import write_report

    out = write_report(args.run_dir, args.out, gif=not args.no_gif)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); open it in a browser")
    return 0
