"""Fixtures of the run tests: the TINY run config (reliability_support.TINY) on one IDX
folder per test module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from reliability_support import TINY, make_idx_dir, small_config

from gankit.config import Config


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_idx_dir(tmp_path_factory.mktemp("idx"))


@pytest.fixture
def cfg(data: Path) -> Callable[..., Config]:
    """cfg(**overrides): the TINY run config on the IDX folder."""
    return lambda **extra: small_config(data, **{**TINY, **extra})
