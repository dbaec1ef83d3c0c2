"""gankit.core.state: the whole-run state's checks (`validate_state`, `check_fits`) and the
one-line form of torch's load errors (`describe_load_error`)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from gankit.config import build_config
from gankit.core.state import (
    REQUIRED_KEYS,
    STATE_FORMAT,
    ValidState,
    check_fits,
    describe_load_error,
    validate_state,
)
from gankit.core.trainer import Trainer
from gankit.errors import CheckpointError


@pytest.fixture(scope="module")
def tiny_state() -> dict[str, Any]:
    cfg = build_config("smoke", overrides={"model.g_hidden": [4], "model.d_hidden": [4],
                                           "model.z_dim": 2, "train.batch_size": 2})
    return Trainer(cfg, torch.zeros(4, 1, 2, 2)).state_dict()


def test_a_trainer_state_is_valid_and_checked_once(tiny_state) -> None:
    assert tiny_state["format"] == STATE_FORMAT
    valid = validate_state(tiny_state)
    assert isinstance(valid, ValidState)
    assert dict(valid) == tiny_state
    assert validate_state(valid) is valid  # a checked state is handed on as it is


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_a_missing_key_is_named(tiny_state, key) -> None:
    state = {k: v for k, v in tiny_state.items() if k != key}
    with pytest.raises(CheckpointError, match=f"x.pt lacks {key};"):
        validate_state(state, where="x.pt")


def test_not_a_mapping_and_another_format_are_refused(tiny_state) -> None:
    with pytest.raises(CheckpointError, match="not a mapping"):
        validate_state([1, 2])
    with pytest.raises(CheckpointError, match=f"format {STATE_FORMAT + 1} is not supported"):
        validate_state({**tiny_state, "format": STATE_FORMAT + 1})


def test_non_finite_weights_are_refused(tiny_state) -> None:
    g = {k: torch.full_like(v, float("inf")) if v.is_floating_point() else v
         for k, v in tiny_state["g"].items()}
    with pytest.raises(CheckpointError):
        validate_state({**tiny_state, "g": g})


def test_check_fits_compares_sample_shape_and_classes(tiny_state) -> None:
    check_fits(tiny_state, [1, 2, 2], 0)
    with pytest.raises(CheckpointError, match=r"shape \[1, 2, 2\], the data here are \[1, 3, 3\]"):
        check_fits(tiny_state, [1, 3, 3], 0)
    with pytest.raises(CheckpointError, match="has 0 classes, the data here 10"):
        check_fits(tiny_state, [1, 2, 2], 10)


def test_describe_load_error_is_one_bounded_line() -> None:
    model = torch.nn.Linear(2, 3)
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict({"weight": torch.zeros(5, 5), "bias": torch.zeros(3)})
    line = describe_load_error(err.value)
    assert line.startswith("Linear:") and "\n" not in line
    assert "weight" in line and "torch.Size([5, 5])" in line
    short = describe_load_error(err.value, limit=20)
    assert len(short) == 20 and short.endswith("...")
    assert describe_load_error(ValueError("")) == "ValueError"
