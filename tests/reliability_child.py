"""`gankit train` on synthetic data, as a subprocess the kill tests can SIGKILL.

Runs the real train command (gankit.commands.train.run, what `gankit train` runs) with
`gankit.run.load_dataset` replaced by the synthetic stand-in, and turns a GankitError into
one line and exit status 2 as gankit.cli.main does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gankit.run  # noqa: E402
from gankit.commands import train  # noqa: E402
from gankit.errors import GankitError  # noqa: E402
from reliability_support import synthetic_dataset  # noqa: E402


def main() -> int:
    gankit.run.load_dataset = synthetic_dataset
    parser = argparse.ArgumentParser(prog="gankit")
    train.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["train", *sys.argv[1:]])
    try:
        return int(args.func(args) or 0)
    except GankitError as err:
        print(f"gankit: error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
