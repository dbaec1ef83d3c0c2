"""Checkpoint files: atomic save, safe load, listing and finding the newest.

A checkpoint is the trainer's whole-run `state_dict()` written with `torch.save`: tensors,
numbers, strings, lists and dicts only. Loading first checks the archive's CRC-32s (so a
flipped bit is an error, not silently wrong weights), then uses `torch.load(weights_only=True)`,
which never runs code from the file. Writes go through gankit.fileio.write_atomic (a temporary
file in the same folder, fsynced, renamed over the target), so a crash never leaves a
half-written checkpoint under a checkpoint's name; the file gets the mode of any other output.

Nothing trusts a checkpoint before `validate_state` has checked its schema, types and ranges
(a crafted file fails here with one CheckpointError, not later with a TypeError or after an
epoch of training), its weights are finite, its epoch matches its file name and, for a run
folder, that it belongs to that run (`run_id`). Pruning counts only such checkpoints: a
corrupt or foreign file never pushes a good checkpoint out.
"""

from __future__ import annotations

import errno
import pickle
import re
import struct
import sys
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config
from gankit.core.models import build_models
from gankit.core.state import describe_load_error, validate_state
from gankit.errors import CheckpointError, short
from gankit.fileio import write_atomic

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^epoch_(\d{4,})\.pt$")
_TEMP = re.compile(r"^\.epoch_\d{4,}\.pt\..*\.tmp$")


def checkpoint_name(epoch: int) -> str:
    """File name of the checkpoint written after `epoch` epochs."""
    return f"epoch_{epoch:04d}.pt"


def save_atomic(state: dict[str, Any], path: str | Path) -> Path:
    """Write `state` to `path` through gankit.fileio.write_atomic (temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            try:
                # a ValidState (a dict subclass) goes to disk as the plain dict it holds
                torch.save(state if type(state) is dict else dict(state), fh)
            except RuntimeError as err:  # torch reports a failed write (disk full) so
                raise OSError(errno.ENOSPC, f"writing the checkpoint failed, the disk is "
                              f"probably full ({short(str(err), 120)})", str(path)) from None

    return write_atomic(path, write, durable=True)


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
    if _is_torchscript(path):
        raise CheckpointError(f"{str(path)!r} is a TorchScript model (as `gankit export` "
                              "writes), not a training checkpoint; give the run's "
                              "checkpoints/epoch_NNNN.pt or its run folder")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's warnings are not the user's business
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        what = f" ({found.group(1)})" if found else ""
        raise CheckpointError(
            f"checkpoint {str(path)!r} was refused by the safe loader: it holds an object "
            f"other than tensors and plain data{what}, and gankit never runs code from a file"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, TypeError,
            AttributeError, KeyError, IndexError, struct.error, UnicodeDecodeError,
            OverflowError, MemoryError, RecursionError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(corrupt.format(why=f" ({first[:160]})")) from None
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"{str(path)!r} is not a gankit checkpoint (no 'format' key)")
    return state


def _is_torchscript(path: Path) -> bool:
    """A TorchScript archive (torch.jit.save): it holds constants.pkl and a code/ folder."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()[:10_000]
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def epoch_of_name(path: str | Path) -> int | None:
    """The epoch in a checkpoint's file name (`epoch_0007.pt` -> 7), or None."""
    m = _NAME.match(Path(path).name)
    return int(m.group(1)) if m else None


def load_valid(path: str | Path, run_id: str | None = None) -> dict[str, Any]:
    """`load` + `validate_state` + the file name's epoch + (given `run_id`) the run it belongs to.

    A checkpoint without a run id (written before gankit kept one) belongs to any run.
    """
    path = Path(path)
    state = validate_state(load(path), where=f"checkpoint {short(str(path), 200)}")
    own = state.get("run_id")
    if run_id is not None and own is not None and own != run_id:
        raise CheckpointError(f"checkpoint {str(path)!r} belongs to another run (run id {own}, "
                              f"this run's is {run_id}); move it out of the run folder")
    named = epoch_of_name(path)
    if named is not None and named != state["epoch"]:
        raise CheckpointError(f"checkpoint {str(path)!r} is named for epoch {named} but holds "
                              f"epoch {state['epoch']}; it was renamed or copied in: remove it")
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


_VALID: dict[tuple[str, int, int, str | None], bool] = {}
"""(path, mtime_ns, size, run id) -> passed `load_valid`: prune reads each file once."""


def is_valid(path: Path, run_id: str | None = None) -> bool:
    """Whether `load_valid(path, run_id)` passes (remembered per file version)."""
    try:
        st = path.stat()
    except OSError:
        return False
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, run_id)
    if key not in _VALID:
        try:
            load_valid(path, run_id)
            _VALID[key] = True
        except CheckpointError:
            _VALID[key] = False
    return _VALID[key]


def prune(run_dir: str | Path, keep: int, run_id: str | None = None) -> list[Path]:
    """Delete all but the newest `keep` valid checkpoints of the run; returns the deleted paths.

    Only checkpoints that load and validate (`load_valid`, for `run_id` when given) count
    and are deleted: a corrupt, foreign or renamed file never pushes a good one out; it
    stays for the user to inspect (resume skips it with a warning).
    """
    valid = [p for p in list_checkpoints(run_dir) if is_valid(p, run_id)]
    doomed = valid[:-keep] if keep > 0 else []
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed


def latest_valid(
    run_dir: str | Path, warn: Callable[[str], None] | None = None, run_id: str | None = None
) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint of a run that loads and validates (`load_valid`), and its state.

    A newer checkpoint that is truncated, corrupt, refused, renamed or (given `run_id`) from
    another run is skipped with a warning naming it (through `warn`); if none is good,
    CheckpointError lists what was wrong.
    """
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"run folder {str(run_dir)!r} has no checkpoints in "
                              f"{CHECKPOINT_DIR}/; train it first or give a .pt file")
    problems = []
    for path in reversed(found):
        try:
            return path, load_valid(path, run_id)
        except CheckpointError as err:
            problems.append(str(err))
            if warn is not None:
                warn(f"warning: skipping checkpoint {path.name}: {err}")
    raise CheckpointError(f"no checkpoint of run folder {str(run_dir)!r} loads: "
                          + "; ".join(problems))


def set_aside(path: Path) -> Path:
    """Rename `path` to the first free `NAME.kept`, `NAME.kept-2`, ... beside it (a name no
    listing, pruning or resume reads); returns the new path."""
    for i in range(1, 10_000):
        kept = path.with_name(path.name + (".kept" if i == 1 else f".kept-{i}"))
        if not kept.exists() and not kept.is_symlink():
            path.rename(kept)
            return kept
    raise CheckpointError(f"{str(path.parent)!r} holds 10,000 set-aside copies of "
                          f"{path.name}; clear them out")


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
    is called as g(z, labels); `gankit.core.models.generate(g, z, labels)` handles both kinds.

    A run folder gives its newest checkpoint that loads; a corrupt newer one is named through
    `warn` (default: a line on stderr).
    """
    if Path(path).is_dir():
        _, state = latest_valid(path, warn or (lambda m: print(m, file=sys.stderr)))
    else:
        state = load_valid(resolve_checkpoint(path))
    cfg = Config.from_dict(state["config"])
    g, _ = build_models(cfg.model, tuple(state["sample_shape"]), int(state.get("n_classes", 0)))
    weights = state["ema"]["model"] if state.get("ema") else state["g"]
    try:
        g.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint generator does not fit its config: "
                              f"{describe_load_error(err)}") from None
    return g.to(device).eval(), cfg
