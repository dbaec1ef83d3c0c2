"""gankit.runtime.device: the device and precision a run asks for, bf16 autocast, and Adam
(fused where it can be) with the flags this process chose."""

from __future__ import annotations

import pytest
import torch

from gankit.errors import ConfigError
from gankit.runtime.device import (
    ADAM_MODE_KEYS,
    adam_modes,
    autocast,
    make_adam,
    resolve_device,
    restore_adam_modes,
)


def test_resolve_device_names_cpu_and_refuses_others() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="'mps'.*not one gankit runs on"):
        resolve_device("mps")


def test_autocast_is_bf16_only_for_bf16() -> None:
    w = torch.randn(4, 4)
    with autocast(torch.device("cpu"), "bf16"):
        assert (w @ w).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert (w @ w).dtype == torch.float32


def test_restore_adam_modes_undoes_a_loaded_states_flags() -> None:
    p = torch.nn.Parameter(torch.zeros(3))
    opt = make_adam([p], 1e-3, (0.5, 0.999))
    modes = adam_modes(opt)
    assert set(modes) == set(ADAM_MODE_KEYS)
    saved = opt.state_dict()
    saved["param_groups"][0].update({"fused": None, "foreach": True})  # another process's
    opt.load_state_dict(saved)
    restore_adam_modes(opt, modes, torch.device("cpu"))
    assert adam_modes(opt) == modes


def test_fused_adam_matches_plain_adam() -> None:
    torch.manual_seed(0)
    w = torch.randn(50, 30)
    a, b = w.clone().requires_grad_(), w.clone().requires_grad_()
    fused = make_adam([a], 1e-2, (0.5, 0.999))
    plain = torch.optim.Adam([b], lr=1e-2, betas=(0.5, 0.999))
    for step in range(5):
        g = torch.randn(50, 30, generator=torch.Generator().manual_seed(step))
        a.grad, b.grad = g.clone(), g.clone()
        fused.step()
        plain.step()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_auto_precision_follows_the_hardware(monkeypatch):
    import gankit.runtime.device as tr
    from gankit.runtime import cpu as cpu_flags

    cpu = torch.device("cpu")
    monkeypatch.setattr(cpu_flags, "has_native_bf16", lambda: True)
    assert tr.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(cpu_flags, "has_native_bf16", lambda: False)
    assert tr.resolve_precision("auto", cpu) == "fp32"
    assert tr.resolve_precision("bf16", cpu) == "bf16"  # an explicit choice is kept
    assert tr.resolve_precision("fp32", cpu) == "fp32"
