"""Small file helpers shared by data, metrics, images and runs: hashes, atomic writes."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    """Hex SHA256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(
    path: str | Path, write: Callable[[Path], object], durable: bool = False
) -> Path:
    """Call `write(temp_path)`, flush the temp file to disk, then rename it over `path`.

    The only atomic writer in gankit (checkpoints, the MNIST cache, grids, reports, logs,
    tables). The temp file (`.NAME.<pid>.<random>.tmp`, created exclusively, mode as the
    umask allows; its name cut to fit NAME_MAX) sits in the same folder, so the rename is
    atomic: a crash or a full disk leaves the old file or the new one, never half of one, and
    two writers never share a temp file. A link at `path` is replaced, never written through;
    a device, pipe or folder there is refused (OSError). With
    `durable` the file and its folder are fsynced, so the new file survives a power cut once
    this returns (the MNIST cache, checkpoints, exported models).
    A failed write removes the temp file and re-raises; callers turn OSError into their own
    one-line message.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # never replace a device, pipe or folder
        raise OSError(errno.EEXIST, "exists and is not a regular file (a device, pipe or "
                      "folder); choose a file name", str(path))
    tmp = path.with_name(temp_name(path.name))
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # the original error matters more; a stale temp file is harmless
        raise
    if durable:
        fsync_dir(path.parent)
    return path


NAME_MAX = 255
"""Longest file name (in bytes) on the file systems gankit writes to."""


def temp_name(name: str) -> str:
    """`.NAME.<pid>.<random>.tmp`, NAME cut (at a character) so the whole fits NAME_MAX bytes:
    a legal 250-character output name must not fail for its temporary name."""
    tail = f".{os.getpid()}.{secrets.token_hex(4)}.tmp"
    room = NAME_MAX - 1 - len(tail.encode())
    head = os.fsencode(name)[:room].decode("utf-8", errors="ignore")
    return f".{head}{tail}"


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (where the platform allows opening folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def describe_os_error(err: OSError) -> str:
    """An OSError's reason in a few words, with its errno name (`No space left on device
    [ENOSPC]`), for the one-line messages of commands that write files."""
    code = errno.errorcode.get(err.errno or 0, "")
    return f"{err.strerror or err}" + (f" [{code}]" if code else "")


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically (see `write_atomic`)."""
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def refuse_overwrite(out: str | Path, inputs: list[str | Path], flag: str = "--out") -> None:
    """GankitError when `out` is one of `inputs` (the same file, by any path or link), or
    an existing folder: no command writes over what it reads."""
    from gankit.errors import GankitError

    target = Path(out)
    if target.is_dir():
        raise GankitError(f"{flag} {str(target)!r} is an existing folder; give a file name")
    if not target.exists():
        return
    for given in inputs:
        source = Path(given)
        try:
            same = source.exists() and os.path.samefile(source, target)
        except OSError:
            same = False
        if same:
            raise GankitError(f"{flag} {str(target)!r} is the input {str(source)!r}; writing "
                              f"it would destroy the input: choose another {flag}")
