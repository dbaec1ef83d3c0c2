"""Where and how a run computes: the device, the precision, autocast and Adam's kernels."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

from gankit.errors import ConfigError, short
from gankit.runtime import cpu
from gankit.validation import known_device

ADAM_MODE_KEYS = ("fused", "foreach", "capturable")
"""Adam flags that are the running trainer's choice, not a loaded checkpoint's."""


def resolve_device(name: str) -> torch.device:
    """`auto` -> CUDA when available else CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not known_device(name):
        raise ConfigError(f"device {short(name, 40)} is not one gankit runs on; use auto, cpu, "
                          "cuda or cuda:N")  # as train.device: meta, mps, xla... are refused
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but PyTorch sees no CUDA GPU here; "
                          "use --device cpu or --device auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r} is not a valid device; use auto, cpu or cuda") from None


def resolve_precision(name: str, device: torch.device) -> str:
    """`auto` -> `bf16` on GPUs with bf16 and CPUs with native bf16 matmuls, else `fp32`.

    Without hardware support bf16 is emulated and several times slower than fp32.
    """
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device.type == "cpu" and cpu.has_native_bf16() else "fp32"


def check_precision(precision: str, device: torch.device) -> None:
    """Raise ConfigError when `device` cannot compute in `precision`."""
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"precision bf16 needs a GPU with bf16 (Ampere or newer); "
                          f"{torch.cuda.get_device_name(device)} has none: use "
                          "--precision fp32")


def autocast(device: torch.device, precision: str, cache: bool = True) -> AbstractContextManager:
    """bf16 autocast for `bf16`, nothing for `fp32`. CUDA graphs need `cache=False`: the
    cast cache's copies would outlive the capture."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=cache)
    return nullcontext()


def make_adam(
    params: Any, lr: float, betas: tuple[float, float], capturable: bool = False,
    eps: float = 1e-8,
) -> torch.optim.Optimizer:
    """Adam, fused into one kernel per step where this torch and device support it;
    `capturable` (state on the device, no host syncs) for CUDA-graph capture."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, fused=True,
                                capturable=capturable)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps, capturable=capturable)


def adam_modes(opt: torch.optim.Optimizer) -> dict[str, Any]:
    """The Adam flags this process chose (ADAM_MODE_KEYS), to restore after a load."""
    return {k: opt.param_groups[0].get(k) for k in ADAM_MODE_KEYS}


def restore_adam_modes(opt: torch.optim.Optimizer, modes: dict[str, Any],
                       device: torch.device) -> None:
    """Put back this process's Adam flags after `opt.load_state_dict` (which copies the saved
    groups' flags); a capturable Adam gets its step counts on the device."""
    for group in opt.param_groups:
        group.update(modes)
    if modes.get("capturable"):  # a state saved without: its step counts go to the device
        for state_of_param in opt.state.values():
            step = state_of_param.get("step")
            if isinstance(step, torch.Tensor) and step.device != device:
                state_of_param["step"] = step.to(device, torch.float32)
