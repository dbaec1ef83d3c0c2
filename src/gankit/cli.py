"""The command line: `gankit SUBCOMMAND ...`; the only module that reads argv.

Each subcommand lives in `gankit.commands.<name>` with two functions:
`add_parser(subparsers)` declares its flags and `run(args) -> int` does the work.
A `GankitError` becomes one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from gankit import __version__
from gankit.errors import GankitError

COMMANDS = (
    "train", "sample", "data", "report", "games", "lesson", "compare", "eval", "plot", "export",
)
"""Subcommand modules under gankit.commands, in the order `--help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="gankit",
        description="Train, compare and evaluate Generative Adversarial Networks.",
    )
    parser.add_argument("--version", action="version", version=f"gankit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"gankit.commands.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse argv, run the chosen subcommand, turn user errors into exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GankitError as err:
        print(f"gankit: error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:  # a file problem no command anticipated: still one line
        where = f" {err.filename!r}:" if err.filename else ""
        print(f"gankit: error:{where} {err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
