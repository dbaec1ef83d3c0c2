"""The command line: `gankit SUBCOMMAND ...`; the only module that reads argv.

Each subcommand lives in `gankit.commands.<name>` with two functions:
`add_parser(subparsers)` declares its flags and `run(args) -> int` does the work.
A `GankitError` becomes one line on stderr and exit status 2, never a traceback; any other
exception becomes one line and exit status 1 (`--debug` or GANKIT_DEBUG=1 shows the
traceback). Usage errors print one line and a pointer to `--help`, exit status 2.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from gankit import __version__
from gankit.errors import GankitError, short

COMMANDS = (
    "train", "sample", "data", "report", "games", "lesson", "compare", "eval", "plot", "export",
    "config", "lab",
)
"""Subcommand modules under gankit.commands, in the order `--help` lists them."""


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors in one line (plus where to read more), not a usage block."""

    def error(self, message: str) -> NoReturn:
        msg = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {msg[:400]}\n(see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with one sub-parser per command."""
    parser = _Parser(
        prog="gankit",
        description="Train, compare and evaluate Generative Adversarial Networks.",
    )
    parser.add_argument("--version", action="version", version=f"gankit {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error, anywhere on the line (also: "
                             "GANKIT_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"gankit.commands.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse argv, run the chosen subcommand, turn user errors into exit status 2."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not [a for a in argv if a != "--debug"]:  # bare `gankit`: the help, exit status 0
        parser.print_help()
        return 0
    debug = "--debug" in argv or os.environ.get("GANKIT_DEBUG", "") not in ("", "0")
    args = parser.parse_args([a for a in argv if a != "--debug"])  # --debug goes anywhere
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    except BaseException as err:  # noqa: BLE001 - every error ends as one line (or --debug)
        if isinstance(err, SystemExit) or debug:
            raise
        code, line = describe_error(err)
        print(f"gankit: error: {line}", file=sys.stderr)
        return code


def describe_error(err: BaseException) -> tuple[int, str]:
    """(exit status, one-line message) for an exception that escaped a command."""
    if isinstance(err, GankitError):
        return err.exit_code, str(err)
    if isinstance(err, OSError):  # a file problem no command anticipated: still one line
        where = f" {short(str(err.filename), 200)}:" if err.filename else ""
        code = errno.errorcode.get(err.errno or 0, "")
        full = " (the disk is full: free space and run again)" if err.errno in (
            errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else ""
        return 2, f"{where} {err.strerror or short(str(err), 200)}{f' [{code}]' if code else ''}"\
            f"{full}".strip()
    if isinstance(err, MemoryError) or _torch_out_of_memory(err):
        return 1, ("out of memory; ask for fewer samples, smaller models or a smaller batch "
                   "(--debug shows where)")
    if isinstance(err, RecursionError):
        return 1, "input nested too deeply to process (--debug shows where)"
    text = " ".join(str(err).split()) or type(err).__name__
    return 1, (f"unexpected {type(err).__name__}: {text[:300]} (a bug in gankit "
               "or an input it does not check; run with --debug for the traceback)")


def _torch_out_of_memory(err: BaseException) -> bool:
    """torch's out-of-memory errors: torch.OutOfMemoryError (a GPU's), and the CPU
    allocator's RuntimeError (told by its message; the CLI does not import torch)."""
    if type(err).__name__ == "OutOfMemoryError":
        return True
    text = str(err)[:1000]
    return isinstance(err, RuntimeError) and ("DefaultCPUAllocator" in text
                                              or "out of memory" in text.lower())


if __name__ == "__main__":
    raise SystemExit(main())
