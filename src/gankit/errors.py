"""User-facing errors: one class, one line, exit status 2 (3: a run stopped on purpose).

Raise `GankitError` for anything a user can fix (a bad value, a missing file); the CLI
prints its message on one line and exits with status 2. Invariants use `assert`.
"""

from __future__ import annotations


class GankitError(Exception):
    """A problem with the user's input or environment, with a one-line message.

    The message names the offending value and how to fix it.
    """

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class DataError(GankitError):
    """Data missing, corrupt or unreadable."""


class CheckpointError(GankitError):
    """A checkpoint that is corrupt, unsafe or incompatible."""


class ConfigError(GankitError):
    """An invalid configuration value."""


class TrainingStopped(GankitError):
    """A run stopped on purpose (train.on_collapse=stop); exit status 3."""

    exit_code = 3
