"""Continuing a run (`--resume`): every rule of it lives here (`resumed_run`): which
checkpoint, which config edits are allowed, the data check, and the command a user types to
resume. The training loop (gankit.runs.loop) only calls in."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gankit.config import (
    Config,
    apply_overrides,
    config_changes,
    config_value,
    read_config_file,
    validate,
)
from gankit.core.trainer import Trainer
from gankit.errors import CheckpointError, ConfigError, GankitError
from gankit.runs import checkpoint as ckpt
from gankit.runs.folder import writing

RESUME_OVERRIDABLE = ("data.data_dir", "train.epochs", "train.eval_every", "train.eval_n",
                      "train.sample_every", "train.checkpoint_every", "train.keep_checkpoints",
                      "train.progress", "train.device", "train.tensorboard", "train.nan_retries",
                      "train.threads", "train.cuda_graphs", "train.on_collapse")
"""Config keys a resumed run may change; anything else would break exact resume.

`data.data_dir` may point elsewhere (the data moved): the checkpoint's fingerprint of the
training data must still match (Trainer.load_state_dict)."""


def resumed_run(out: Path, overrides: dict[str, Any] | None, log: Callable[[str], None]
                ) -> tuple[Path, Config, dict[str, Any] | None, str | None]:
    """Every rule of `--resume` in one place: (run folder, config to continue with, the
    checkpoint's state (None: start over from config.yaml), run id).

    The config is the checkpoint's, changed only by `overrides` (the command line) and hand
    edits of config.yaml, both among RESUME_OVERRIDABLE; a flag that repeats the run's own
    value changes nothing and is accepted. The result is validated (with this machine).
    """
    out, state = resume_state(out, log)
    if state is None:
        cfg = Config.from_dict(read_config_file(out / "config.yaml"))
    else:
        cfg = Config.from_dict(state["config"])
    run_id = (state or {}).get("run_id") or run_id_of(out)
    anonymous = state is not None and not state.get("run_id")
    extra = {**hand_edits(out, cfg, log, anonymous, overrides), **(overrides or {})}
    wanted = apply_overrides(Config.from_dict(cfg.to_dict()), extra)
    bad = sorted(k for k in extra if k not in RESUME_OVERRIDABLE
                 and config_value(wanted, k) != config_value(cfg, k))
    if bad:
        raise ConfigError(f"cannot change {', '.join(bad)} when resuming (exact resume "
                          f"needs the same run); only {', '.join(RESUME_OVERRIDABLE)} may "
                          "change")
    validate(apply_overrides(cfg, extra))
    return out, cfg, state, run_id


def resume_state(out: Path, log: Callable[[str], None]) -> tuple[Path, dict[str, Any] | None]:
    """(run folder, newest loadable state) for --resume; state None = restart from config.yaml.

    A newest checkpoint that is corrupt or truncated is skipped with a warning naming it; a
    run killed before its first checkpoint is started over from its config.yaml.
    """
    if not out.is_dir():
        run = run_folder_of(out)
        state = ckpt.load_valid(out, run_id_of(run))
        log(f"resuming from {out} (epoch {state['epoch']})")
        return run, state
    with writing(out, out / ckpt.CHECKPOINT_DIR):
        stale = ckpt.remove_stale_temps(out)
    for p in stale:
        log(f"removed {p.name}, left by a checkpoint write that was interrupted")
    if not ckpt.list_checkpoints(out) and (out / "config.yaml").is_file():
        log(f"{out} has no checkpoint yet (stopped during its first epochs); starting it "
            "over from its config.yaml")
        return out, None
    path, state = ckpt.latest_valid(out, warn=log, run_id=run_id_of(out))
    log(f"resuming {out} from {path.name} (epoch {state['epoch']})")
    return out, state


def run_folder_of(out: Path) -> Path:
    """The run folder `--resume --out OUT` names: OUT itself, or for a checkpoint file, the
    run folder whose checkpoints/ holds it (never the grandparent of any other file: a run
    writes its report and log there)."""
    if out.is_dir():
        return out
    ckpt.resolve_checkpoint(out)  # one line when it does not exist
    run = out.parent.parent
    if out.parent.name != ckpt.CHECKPOINT_DIR or not (run / "config.yaml").is_file():
        raise GankitError(f"--resume --out {str(out)!r} is a file, not a run folder nor a "
                          f"checkpoint in a run folder's {ckpt.CHECKPOINT_DIR}/; give the run "
                          "folder (the --out of its `gankit train`)")
    return run


def run_id_of(run_dir: Path) -> str | None:
    """The run id in a run folder's config.yaml, or None (none kept, or no readable file)."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return None
    try:
        found = read_config_file(path).get("run_id")
    except GankitError:
        return None
    return found if isinstance(found, str) else None


def hand_edits(out: Path, cfg: Config, log: Callable[[str], None],
               anonymous: bool = False, flags: dict[str, Any] | None = None) -> dict[str, Any]:
    """Edits of the run's config.yaml against the checkpoint's config, as overrides.

    Edits of RESUME_OVERRIDABLE keys are returned (to apply); any other edit is refused
    with one line naming the keys, since config.yaml would otherwise be silently ignored
    and then overwritten. `anonymous`: the checkpoint has no run id, so it may be another
    run's copied in rather than config.yaml edited; the message says both. `flags`: the
    command line's overrides, which win over an edit of the same key (and the log says so).
    """
    path = out / "config.yaml"
    if not path.is_file():
        return {}
    try:
        edited = Config.from_dict(read_config_file(path))
    except GankitError as err:
        raise ConfigError(f"{path} cannot be read back ({err}); restore it, or delete it to "
                          "resume with the checkpoint's config") from None
    changed = config_changes(cfg, edited)
    refused = sorted(k for k in changed if k not in RESUME_OVERRIDABLE)
    if refused and anonymous:
        raise CheckpointError(
            f"the checkpoint resumed from disagrees with {path} on {', '.join(refused)} and "
            "carries no run id (an old gankit wrote it, or it was copied in from another "
            f"run): if it is another run's, move it out of {out / ckpt.CHECKPOINT_DIR}; if "
            "config.yaml was edited, undo those edits")
    if refused:
        raise ConfigError(
            f"{path} was edited since the checkpoint: {', '.join(refused)} changed, which a "
            f"resumed run cannot change (exact resume); undo those edits (only "
            f"{', '.join(RESUME_OVERRIDABLE)} may change), or start a new run with "
            f"--config {path} --out NEW_DIR")
    for key, value in changed.items():
        if key in (flags or {}):
            log(f"config.yaml edit of {key} ({value!r}) not applied: the command line sets "
                f"{(flags or {})[key]!r}")
        else:
            log(f"config.yaml edit applied: {key} {config_value(cfg, key)!r} -> {value!r}")
    return changed


def restore(trainer: Trainer, state: dict[str, Any], n: int) -> None:
    """Load a checkpoint's state, after checking it was trained on these data."""
    saved = state.get("data_sha256")  # absent in checkpoints of gankit before it
    if saved is not None and saved != trainer.data_fingerprint():
        raise CheckpointError(
            f"the training data here ({n} samples, sha256 {trainer.data_fingerprint()[:12]}) "
            f"are not the data the run was trained on (sha256 {saved[:12]}); point --data-dir "
            "at the run's data, or train a new run with another --out")
    trainer.load_state_dict(state)


def resume_command(out: Path) -> str:
    """The command that continues the run in `out`, shell-quoted (pastes as is)."""
    return f"gankit train --resume --out {shlex.quote(str(out))}"
