"""Checkpoint files: atomic save, safe load, listing and finding the newest.

A checkpoint is the trainer's whole-run `state_dict()` written with `torch.save`: tensors,
numbers, strings, lists and dicts only. Loading first checks the archive's CRC-32s (so a
flipped bit is an error, not silently wrong weights), then uses `torch.load(weights_only=True)`,
which never runs code from the file. Writes go to a temporary file in the same folder, are
fsynced, then renamed over the target, so a crash never leaves a half-written checkpoint
under a checkpoint's name; the file gets the mode of any other output (0666 minus the umask).

Nothing trusts a checkpoint before `validate_state` has checked its schema, types and ranges
(a crafted file fails here with one CheckpointError, not later with a TypeError or after an
epoch of training), its weights are finite, its epoch matches its file name and, for a run
folder, that it belongs to that run (`run_id`). Pruning counts only such checkpoints: a
corrupt or foreign file never pushes a good checkpoint out.
"""

from __future__ import annotations

import errno
import math
import os
import pickle
import re
import struct
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gankit.errors import CheckpointError, GankitError, short

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
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are 0644 by default
        with os.fdopen(fd, "wb") as fh:
            try:
                torch.save(state, fh)
            except RuntimeError as err:  # torch reports a failed write (disk full) so
                raise OSError(errno.ENOSPC, f"writing the checkpoint failed, the disk is "
                              f"probably full ({short(str(err), 120)})", str(path)) from None
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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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


def describe_load_error(err: BaseException, limit: int = 300) -> str:
    """torch's multi-line `load_state_dict` error as one line naming the keys and shapes."""
    text = str(err).strip()
    text = re.sub(r"^Error\(s\) in loading state_dict for (\w+):", r"\1:", text)
    text = " ".join(text.split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


MAX_CLASSES = 100_000
"""Largest class count a checkpoint may declare."""


def validate_state(state: Any, where: str = "checkpoint") -> dict[str, Any]:
    """Check a whole-run state's schema, types, ranges and weights; return it.

    Raises one CheckpointError naming the first bad field, so a crafted or damaged file
    never reaches code that would fail with a TypeError, allocate without bound or train
    an epoch before noticing. `where` names the file in the message.
    """
    from gankit.config import Config, validate  # lazily: config is light, but keep imports one way

    def bad(field: str, why: str) -> CheckpointError:
        return CheckpointError(f"{where} has an invalid {field!r} ({why}); it is damaged or "
                               "not a gankit checkpoint: use another checkpoint of the run")

    if not isinstance(state, dict):
        raise CheckpointError(f"{where} is not a gankit checkpoint (not a mapping)")
    missing = [k for k in _REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"{where} lacks {', '.join(missing)}; it is not a whole-run "
                              "gankit checkpoint")
    if not _is_int(state["format"]):
        raise bad("format", f"{short(state['format'], 40)} is not an integer")
    from gankit import __version__
    from gankit.trainer import STATE_FORMAT

    if state["format"] != STATE_FORMAT:
        raise CheckpointError(f"checkpoint format {state['format']} is not supported by gankit "
                              f"{__version__} (format {STATE_FORMAT}); use the gankit version "
                              f"that wrote it ({short(state.get('gankit_version', 'unknown'))})")
    if not isinstance(state["config"], dict):
        raise bad("config", f"a {type(state['config']).__name__}, not a mapping")
    try:
        cfg = validate(Config.from_dict(state["config"]), machine=False)
    except GankitError as err:
        raise bad("config", str(err)) from None
    except (TypeError, ValueError, AttributeError, RecursionError) as err:
        raise bad("config", type(err).__name__) from None
    shape = state["sample_shape"]
    if (not isinstance(shape, (list, tuple)) or not 1 <= len(shape) <= 3
            or not all(_is_int(v) and 0 < v <= 4096 for v in shape)
            or math.prod(shape) > 3 * 1024 * 1024):
        raise bad("sample_shape", f"{short(shape, 60)} is not 1 to 3 sizes in 1..4096")
    n_classes = state.get("n_classes", 0)
    if not _is_int(n_classes) or not 0 <= n_classes <= MAX_CLASSES:
        raise bad("n_classes", f"{short(n_classes, 40)} is not an integer in 0..{MAX_CLASSES}")
    for key in ("epoch", "iteration", "g_steps"):
        value = state.get(key, 0)
        if not _is_int(value) or not 0 <= value < 2**53:
            raise bad(key, f"{short(value, 40)} is not a count >= 0")
    elapsed = state.get("elapsed", 0.0)
    if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) \
            or not math.isfinite(elapsed) or elapsed < 0:
        raise bad("elapsed", f"{short(elapsed, 40)} is not a number of seconds")
    for key in ("g", "d"):
        _check_weights(state[key], key, bad)
    if state.get("ema") is not None:
        ema = state["ema"]
        if not isinstance(ema, dict) or "model" not in ema:
            raise bad("ema", "not a mapping with the averaged 'model'")
        _check_weights(ema["model"], "ema", bad)
        for key in ("decay", "updates"):
            if key in ema and (isinstance(ema[key], bool)
                               or not isinstance(ema[key], (int, float))):
                raise bad(f"ema.{key}", f"{short(ema[key], 40)} is not a number")
    for key in ("opt_g", "opt_d"):
        opt = state[key]
        if (not isinstance(opt, dict) or not isinstance(opt.get("state"), dict)
                or not isinstance(opt.get("param_groups"), list)
                or not all(isinstance(g, dict) and isinstance(g.get("params"), list)
                           for g in opt["param_groups"])):
            raise bad(key, "not an optimiser state (state + param_groups)")
    _check_shapes(state, cfg, where)
    z = state["fixed_z"]
    if (not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[0] < 1
            or z.shape[1] != cfg.model.z_dim or not z.is_floating_point()):
        got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise bad("fixed_z", f"{short(got, 40)}, not (N, z_dim={cfg.model.z_dim}) floats")
    rng = state["rng"]
    size = torch.get_rng_state().numel()
    if not isinstance(rng, dict) or not _is_byte_state(rng.get("torch"), size):
        raise bad("rng", "no CPU random-generator state")
    if "noise" in rng and rng.get("noise_device", "cpu") == "cpu" \
            and not _is_byte_state(rng["noise"], size):
        raise bad("rng.noise", "not a random-generator state")
    if "data_sha256" in state and state["data_sha256"] is not None \
            and not isinstance(state["data_sha256"], str):
        raise bad("data_sha256", "not a string")
    if "run_id" in state and not isinstance(state["run_id"], str):
        raise bad("run_id", "not a string")
    return state


_REQUIRED = ("format", "config", "sample_shape", "g", "d", "opt_g", "opt_d", "epoch",
             "iteration", "fixed_z", "rng")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_byte_state(value: Any, size: int) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == torch.uint8 \
        and value.ndim == 1 and value.numel() == size


def _check_weights(weights: Any, name: str, bad: Callable[[str, str], CheckpointError]) -> None:
    """`weights` is a module state_dict: names -> finite tensors."""
    if not isinstance(weights, dict) or not weights:
        raise bad(name, f"a {type(weights).__name__}, not a mapping of weight tensors")
    for key, value in weights.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise bad(name, f"entry {short(key, 40)} is not a named tensor")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"checkpoint weights {name}.{short(key, 60)[1:-1]} hold NaN "
                                  "or infinity (the run diverged before this save); use an "
                                  "earlier checkpoint of the run")


def _check_shapes(state: dict[str, Any], cfg: Any, where: str) -> None:
    """G's, D's (and the EMA's) weights have the names and shapes the config builds.

    The models are built on the meta device (nothing allocated), so a config asking for a
    huge model beside small weights is refused before anything builds it.
    """
    from gankit.models import build_models

    m = cfg.model
    try:
        with torch.device("meta"):
            g, d = build_models(m.name, m.z_dim, tuple(state["sample_shape"]), m.g_hidden,
                                m.d_hidden, m.dropout, width=m.width,
                                n_classes=state.get("n_classes", 0))
    except (GankitError, ValueError, RuntimeError, TypeError, IndexError) as err:
        raise CheckpointError(f"{where}: its config cannot build a model for its samples "
                              f"({short(str(err), 160)}); it is damaged") from None
    pairs = [("g", g, state["g"]), ("d", d, state["d"])]
    if state.get("ema") is not None:
        pairs.append(("ema", g, state["ema"]["model"]))
    for name, model, weights in pairs:
        want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        have = {k: tuple(v.shape) for k, v in weights.items()}
        if want != have:
            key = next(k for k in sorted(set(want) | set(have)) if want.get(k) != have.get(k))
            raise CheckpointError(
                f"{where}: weights {name} do not fit the model of its config: "
                f"{type(model).__name__}.{short(key, 60)[1:-1]} has shape "
                f"{have.get(key, 'missing')} in the file, {want.get(key, 'none')} in the model; "
                "the file is damaged or its config was edited")


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


def remove_stale_temps(run_dir: str | Path) -> list[Path]:
    """Delete temp files that a crash during `save_atomic` left in the checkpoint folder."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if _TEMP.match(p.name)]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale
