"""Ownership of a run folder: one training process at a time.

`RunLock.acquire(folder)` takes an advisory lock (`fcntl.flock`) on `folder/.gankit.lock`
and writes the owner's pid, host and start time into it. A second `gankit train` on the
same folder fails at once with one line naming the owner. The kernel drops the lock when
its process dies (even by SIGKILL), so a lock file left by a dead process is simply taken
over; the file itself stays (removing it would race with a newcomer).
"""

from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path
from types import TracebackType

from gankit.errors import GankitError

LOCK_NAME = ".gankit.lock"
"""The lock file's name inside a run folder."""


class RunLock:
    """Holds at most one run folder's lock; a context manager that releases it on exit."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.folder: Path | None = None

    def acquire(self, folder: Path) -> None:
        """Own `folder` (created if missing) or raise GankitError naming its owner."""
        import fcntl

        if self.fd is not None:
            assert self.folder == folder, "one RunLock holds one folder"
            return
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LOCK_NAME
        if path.is_symlink():
            raise GankitError(f"the lock file {str(path)!r} is a symbolic link; gankit never "
                              "writes through a link there: remove it, then run again")
        try:  # O_NOFOLLOW: a link planted after the check fails here (ELOOP), not truncates
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
        except OSError as err:
            raise GankitError(f"cannot create the lock file {str(path)!r}: "
                              f"{err.strerror or err}; choose a writable --out") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            os.close(fd)
            raise GankitError(f"the lock file {str(path)!r} is not a plain file of its own "
                              "(a hard link, device or pipe); remove it, then run again")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = _read_owner(fd)
            os.close(fd)
            raise GankitError(f"run folder {str(folder)!r} is in use by another gankit "
                              f"process ({owner}); wait for it to finish (or stop it), or "
                              "choose another --out") from None
        os.ftruncate(fd, 0)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n".encode())
        self.fd, self.folder = fd, folder

    def release(self) -> None:
        """Give the folder up (closing the file drops the flock)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = self.folder = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_owner(fd: int) -> str:
    """The owner line of a held lock file (bounded read), or a placeholder."""
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return " ".join(text.split()) or "owner unknown"
