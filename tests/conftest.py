"""Shared test fixtures: small synthetic data, tiny configs, and an isolated cache dir."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

# The shared test helpers (tests/runs/reliability_support.py) import from every test folder.
sys.path.insert(0, str(Path(__file__).resolve().parent / "runs"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Tests never touch the user's gankit cache unless they ask for it."""
    if "GANKIT_TEST_REAL_CACHE" not in __import__("os").environ:
        monkeypatch.setenv("GANKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("GANKIT_DATA_DIR", raising=False)


@pytest.fixture
def toy_images() -> torch.Tensor:
    """256 deterministic 28x28 'images' in [-1, 1]: blurred blobs at class-dependent places."""
    gen = torch.Generator().manual_seed(123)
    yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centres = torch.randint(6, 22, (256, 2), generator=gen).float()
    d2 = (yy - centres[:, 0, None, None]) ** 2 + (xx - centres[:, 1, None, None]) ** 2
    return (torch.exp(-d2 / 18.0) * 2 - 1).unsqueeze(1)


SMALL = {"train.batch_size": 8, "model.g_hidden": [16], "model.d_hidden": [16], "model.z_dim": 4}
"""Overrides of the smoke preset for the smallest trainers (one epoch in milliseconds)."""


@pytest.fixture
def make_config():
    """make_config(small=False, **overrides) -> the smoke preset's Config with the overrides
    applied (`small`: first the SMALL overrides, for the tiniest trainers)."""
    from gankit.config import build_config

    def make(small: bool = False, **overrides):  # noqa: ANN202
        return build_config("smoke", overrides={**(SMALL if small else {}), **overrides})

    return make


@pytest.fixture
def labelled_images() -> tuple[torch.Tensor, torch.Tensor]:
    """32 random 28x28 images in [-1, 1] with labels 0..9 in turn."""
    gen = torch.Generator().manual_seed(1)
    return torch.rand(32, 1, 28, 28, generator=gen) * 2 - 1, torch.arange(32) % 10
