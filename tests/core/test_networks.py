"""gankit.core.networks: G and D seeded from the config, restored from a state (a misfit is
one CheckpointError), and the training data's fingerprint."""

from __future__ import annotations

import hashlib

import pytest
import torch

from gankit.config import build_config
from gankit.core.networks import build_networks, data_sha256, load_networks, seeded_models
from gankit.errors import CheckpointError


def test_seeded_models_depend_on_the_seed_only(make_config) -> None:
    torch.manual_seed(123)  # the global RNG before does not matter
    g1, d1 = seeded_models(make_config(small=True), (1, 28, 28))
    torch.manual_seed(456)
    g2, d2 = seeded_models(make_config(small=True), (1, 28, 28))
    for a, b in ((g1, g2), (d1, d2)):
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
            assert torch.equal(p, q)
    g3, _ = seeded_models(make_config(small=True, **{"train.seed": 1}), (1, 28, 28))
    assert any(not torch.equal(p, q) for p, q in zip(g1.state_dict().values(),
                                                      g3.state_dict().values(), strict=True))


def test_load_networks_names_the_misfit(make_config) -> None:
    cfg = make_config(small=True)
    g, d, opt_g, opt_d, _, _ = build_networks(cfg, (1, 28, 28), 0, torch.device("cpu"), 1,
                                              False)
    state = {"g": g.state_dict(), "d": d.state_dict(), "opt_g": opt_g.state_dict(),
             "opt_d": opt_d.state_dict()}
    load_networks(state, g, d, opt_g, opt_d, None)  # a state fits the networks it came from
    key = next(k for k, v in state["g"].items() if v.ndim == 2)
    bad = {**state, "g": {**state["g"], key: torch.zeros(3, 3)}}
    with pytest.raises(CheckpointError, match=rf"does not fit this model: .*{key}"):
        load_networks(bad, g, d, opt_g, opt_d, None)


def test_data_sha256_is_the_float32_bytes_then_the_labels() -> None:
    data = torch.arange(6, dtype=torch.float64).reshape(3, 2)
    labels = torch.tensor([0, 1, 1])
    expected = hashlib.sha256(data.float().numpy().tobytes()).hexdigest()
    assert data_sha256(data, None) == expected
    both = hashlib.sha256(data.float().numpy().tobytes() + labels.numpy().tobytes())
    assert data_sha256(data, labels) == both.hexdigest()


def test_adam_eps_reaches_both_optimisers() -> None:
    cfg = build_config("smoke", overrides={"train.adam_eps": 1e-7})
    _, _, opt_g, opt_d, _, _ = build_networks(cfg, (1, 28, 28), 0, torch.device("cpu"), 1, False)
    assert opt_g.param_groups[0]["eps"] == opt_d.param_groups[0]["eps"] == 1e-7
