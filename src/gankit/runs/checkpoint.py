"""Checkpoint files: atomic save, safe load, listing and finding the newest.

A checkpoint is the trainer's whole-run `state_dict()` written with `torch.save`: tensors,
numbers, strings, lists and dicts only. Loading first checks the archive's CRC-32s (so a
flipped bit is an error, not silently wrong weights), then uses `torch.load(weights_only=True)`,
which never runs code from the file. Writes go to a temporary file in the same folder, are
fsynced, then renamed over the target, so a crash never leaves a half-written checkpoint
under a checkpoint's name.
"""

from __future__ import annotations

import os
import pickle
import re
import struct
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config
from gankit.core.state import check_state
from gankit.errors import CheckpointError
from gankit.models import build_models

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^epoch_(\d{4,})\.pt$")
_TEMP = re.compile(r"^\.epoch_\d{4,}\.pt\..*\.tmp$")


def checkpoint_name(epoch: int) -> str:
    """File name of the checkpoint written after `epoch` epochs."""
    return f"epoch_{epoch:04d}.pt"


def save_atomic(state: dict[str, Any], path: str | Path) -> Path:
    """Write `state` to `path` atomically (temp file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            Path(tmp).unlink(missing_ok=True)
        except OSError:
            pass  # the original error matters more; a stale temp file is harmless
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
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


def _crc_failure(path: Path) -> str | None:
    """Why the archive at `path` fails its zip CRC-32 checks, or None when every member passes."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError, KeyError, IndexError, struct.error,
            UnicodeDecodeError, zlib.error) as err:
        return f"unreadable archive: {type(err).__name__}"
    return None if bad is None else f"CRC mismatch in {bad}"


def load(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint without executing code from it; problems become CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; give a .pt file or a "
                              "run folder with a checkpoints/ subfolder")
    corrupt = (f"checkpoint {str(path)!r} is corrupt or truncated"
               "{why}; use an earlier checkpoint from the same folder")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(corrupt.format(why=" (not a torch.save archive)"))
    damaged = _crc_failure(path)  # torch.load itself never checks the CRCs
    if damaged:
        raise CheckpointError(corrupt.format(why=f" ({damaged})"))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(
            f"checkpoint {str(path)!r} was refused by the safe loader: it holds an object "
            f"other than tensors and plain data{what}, and gankit never runs code from a file"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(corrupt.format(why=f" ({first[:160]})")) from None
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"{str(path)!r} is not a gankit checkpoint (no 'format' key)")
    return state


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's checkpoint files, oldest first (by the epoch in their name)."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file -> itself; a run folder -> its newest checkpoint."""
    path = Path(path)
    if path.is_dir():
        found = list_checkpoints(path)
        if not found:
            raise CheckpointError(f"run folder {str(path)!r} has no checkpoints in "
                                  f"{CHECKPOINT_DIR}/; train it first or give a .pt file")
        return found[-1]
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; give a .pt file or "
                              "a run folder")
    return path


def prune(run_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` checkpoints; returns the deleted paths."""
    found = list_checkpoints(run_dir)
    doomed = found[:-keep] if keep > 0 else []
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed


def latest_valid(
    run_dir: str | Path, warn: Callable[[str], None] | None = None
) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint of a run that loads, and its state.

    A newer checkpoint that is truncated, corrupt or refused is skipped with a warning
    naming it (through `warn`); if none loads, CheckpointError lists what was wrong.
    """
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"run folder {str(run_dir)!r} has no checkpoints in "
                              f"{CHECKPOINT_DIR}/; train it first or give a .pt file")
    problems = []
    for path in reversed(found):
        try:
            return path, load(path)
        except CheckpointError as err:
            problems.append(str(err))
            if warn is not None:
                warn(f"warning: skipping checkpoint {path.name}: {err}")
    raise CheckpointError(f"no checkpoint of run folder {str(run_dir)!r} loads: "
                          + "; ".join(problems))


def remove_stale_temps(run_dir: str | Path) -> list[Path]:
    """Delete temp files that a crash during `save_atomic` left in the checkpoint folder."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if _TEMP.match(p.name)]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def load_generator(
    path: Any, device: torch.device | str = "cpu", warn: Callable[[str], None] | None = None
) -> tuple[torch.nn.Module, Config]:
    """G (eval mode) and the run's config from a checkpoint file or run folder; no data needed.

    G holds the EMA weights when the run kept an EMA. A conditional G (`g.n_classes > 0`)
    is called as g(z, labels); `gankit.models.generate(g, z, labels)` handles both kinds.

    A run folder gives its newest checkpoint that loads; a corrupt newer one is named through
    `warn` (default: a line on stderr).
    """
    if Path(path).is_dir():
        _, state = latest_valid(path, warn or (lambda m: print(m, file=sys.stderr)))
    else:
        state = load(resolve_checkpoint(path))
    check_state(state)
    cfg = Config.from_dict(state["config"])
    g, _ = build_models(cfg.model.name, cfg.model.z_dim, tuple(state["sample_shape"]),
                        cfg.model.g_hidden, cfg.model.d_hidden, cfg.model.dropout,
                        width=cfg.model.width, n_classes=int(state.get("n_classes", 0)))
    weights = state["ema"]["model"] if state.get("ema") else state["g"]
    try:
        g.load_state_dict(weights)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint generator does not fit its config: {first}") from None
    return g.to(device).eval(), cfg
