"""Small file helpers shared by data, metrics, images and runs: hashes, atomic writes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    """Hex SHA256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call `write(temp_path)`, then rename the temp file over `path`.

    The temp file (`.NAME.tmp`) sits in the same folder, so the rename is atomic: a crash
    leaves the old file or the new one, never half of one. A failed write removes the temp
    file and re-raises; callers turn OSError into their own one-line message.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


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
