"""User-facing errors: one class, one line, exit status 2 (3: a run stopped on purpose).

Raise `GankitError` for anything a user can fix (a bad value, a missing file); the CLI
prints its message on one line and exits with status 2. Invariants use `assert`.
"""

from __future__ import annotations

import reprlib
from typing import Any

MAX_MESSAGE = 2000
"""Longest error message printed; the rest is cut (a message never echoes unbounded input)."""

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple = 2, 6, 6, 6
_REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = _REPR.maxarray = 6
_REPR.maxlong = _REPR.maxstring = _REPR.maxother = 60


def short(value: Any, limit: int = 80) -> str:
    """A repr of `value` of at most `limit` characters, built without a full repr.

    Every error message that echoes a user's value goes through this: a value may be a
    25 MB string, a 10^6-digit integer or a structure of nested aliases whose full repr
    would take gigabytes.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        text = f"<an integer of {value.bit_length()} bits>"
    else:
        try:
            text = _REPR.repr(value)
        except Exception:  # noqa: BLE001 - a hostile __repr__ must not hide the real error
            text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: max(limit - 3, 1)] + "..."


class GankitError(Exception):
    """A problem with the user's input or environment, with a one-line message.

    The message names the offending value and how to fix it.
    """

    exit_code = 2

    def __init__(self, message: str) -> None:
        text = " ".join(message[: 4 * MAX_MESSAGE].split())
        if len(text) > MAX_MESSAGE:
            text = text[: MAX_MESSAGE - 3] + "..."
        super().__init__(text)


class DataError(GankitError):
    """Data missing, corrupt or unreadable."""


class CheckpointError(GankitError):
    """A checkpoint that is corrupt, unsafe or incompatible."""


class ConfigError(GankitError):
    """An invalid configuration value."""


class TrainingStopped(GankitError):
    """A run stopped on purpose (train.on_collapse=stop); exit status 3."""

    exit_code = 3


class Interrupted(GankitError):
    """Training stopped by Ctrl-C (SIGINT), with how to resume; exit status 130."""

    exit_code = 130


def check_range(flag: str, value: int, low: int, high: int, fix: str = "") -> int:
    """`value` when low <= value <= high, else a GankitError naming `flag` and the range.

    With whole-number bounds `value` must be a whole number too (10.5 images, "x" or True
    are refused here, as the CLI's int flags refuse them, not deep inside torch)."""
    whole = isinstance(low, int) and isinstance(high, int)
    if whole and (isinstance(value, bool) or not isinstance(value, int)):
        raise GankitError(f"{flag} {short(value, 40)} is not a whole number: use one in "
                          f"{low}..{high:,}" + (f" ({fix})" if fix else ""))
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise GankitError(f"{flag} {short(value, 40)} is not a number: use {low}..{high:,}")
    if not low <= value <= high:
        raise GankitError(f"{flag} {short(value, 40)} is out of range: use {low}..{high:,}"
                          + (f" ({fix})" if fix else ""))
    return value


SEED_MAX = 2**63 - 1
"""Largest seed (torch generators take 64-bit seeds; gankit adds small offsets)."""
