"""The whole-run state dict's format: its version, required keys and the checks on loading."""

from __future__ import annotations

from typing import Any

from gankit import __version__
from gankit.errors import CheckpointError

STATE_FORMAT = 1
"""Version of the checkpoint layout; bumped when it changes incompatibly."""

REQUIRED_KEYS = ("format", "config", "sample_shape", "g", "d", "opt_g", "opt_d", "epoch",
                 "iteration", "fixed_z", "rng")
"""Keys every whole-run state has (Trainer.state_dict writes more)."""


def check_state(state: dict[str, Any]) -> None:
    """Raise CheckpointError unless `state` is a whole-run state this version can read."""
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"checkpoint lacks {', '.join(missing)}; it is not a whole-run "
                              "gankit checkpoint")
    if state["format"] != STATE_FORMAT:
        raise CheckpointError(f"checkpoint format {state['format']} is not supported by gankit "
                              f"{__version__} (format {STATE_FORMAT}); use the gankit version "
                              f"that wrote it ({state.get('gankit_version', 'unknown')})")


def check_fits(state: dict[str, Any], sample_shape: list[int], n_classes: int) -> None:
    """Raise CheckpointError when `state` was trained on other samples or classes."""
    if list(state["sample_shape"]) != sample_shape:
        raise CheckpointError(f"checkpoint was trained on samples of shape "
                              f"{state['sample_shape']}, the data here are {sample_shape}")
    if int(state.get("n_classes", 0)) != n_classes:
        raise CheckpointError(f"checkpoint has {state.get('n_classes', 0)} classes, the "
                              f"data here {n_classes}")
