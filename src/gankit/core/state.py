"""The whole-run state dict's format: its version, required keys and the checks on loading
(schema, types, ranges, finite weights, shapes against the config's model: `validate_state`)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import torch

from gankit import __version__
from gankit.config import Config, validate
from gankit.core.models import build_models
from gankit.errors import CheckpointError, GankitError, short

STATE_FORMAT = 1
"""Version of the checkpoint layout; bumped when it changes incompatibly."""

REQUIRED_KEYS = ("format", "config", "sample_shape", "g", "d", "opt_g", "opt_d", "epoch",
                 "iteration", "fixed_z", "rng")
"""Keys every whole-run state has (Trainer.state_dict writes more)."""


class ValidState(dict):
    """A whole-run state that `validate_state` has checked: what reads a checkpoint (the
    loaders of gankit.runs.checkpoint) checks it once, and what it is handed to (the Trainer,
    the generator loader) takes it as it is. Mutating one after the check is a bug."""


def check_fits(state: dict[str, Any], sample_shape: list[int], n_classes: int) -> None:
    """Raise CheckpointError when `state` was trained on other samples or classes."""
    if list(state["sample_shape"]) != sample_shape:
        raise CheckpointError(f"checkpoint was trained on samples of shape "
                              f"{state['sample_shape']}, the data here are {sample_shape}")
    if int(state.get("n_classes", 0)) != n_classes:
        raise CheckpointError(f"checkpoint has {state.get('n_classes', 0)} classes, the "
                              f"data here {n_classes}")


def describe_load_error(err: BaseException, limit: int = 300) -> str:
    """torch's multi-line `load_state_dict` error as one line naming the keys and shapes."""
    text = str(err).strip()
    text = re.sub(r"^Error\(s\) in loading state_dict for (\w+):", r"\1:", text)
    text = " ".join(text.split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


MAX_CLASSES = 100_000
"""Largest class count a checkpoint may declare."""


def validate_state(state: Any, where: str = "checkpoint") -> ValidState:
    """Check a whole-run state's schema, types, ranges and weights; return it as a ValidState
    (one that is one already is returned as it is: checked once).

    Raises one CheckpointError naming the first bad field, so a crafted or damaged file
    never reaches code that would fail with a TypeError, allocate without bound or train
    an epoch before noticing. `where` names the file in the message.
    """
    if isinstance(state, ValidState):
        return state

    def bad(field: str, why: str) -> CheckpointError:
        return CheckpointError(f"{where} has an invalid {field!r} ({why}); it is damaged or "
                               "not a gankit checkpoint: use another checkpoint of the run")

    if not isinstance(state, dict):
        raise CheckpointError(f"{where} is not a gankit checkpoint (not a mapping)")
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{where} lacks {', '.join(missing)}; it is not a whole-run "
                              "gankit checkpoint")
    if not _is_int(state["format"]):
        raise bad("format", f"{short(state['format'], 40)} is not an integer")
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
    for key in ("torch", "noise"):  # the right size but random bytes: torch refuses it
        if key in rng and _is_byte_state(rng[key], size) and not _settable(rng[key]):
            raise bad(f"rng.{key}", "not a valid random-generator state")
    if "data_sha256" in state and state["data_sha256"] is not None \
            and not isinstance(state["data_sha256"], str):
        raise bad("data_sha256", "not a string")
    if "run_id" in state and not isinstance(state["run_id"], str):
        raise bad("run_id", "not a string")
    return ValidState(state)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _settable(state: torch.Tensor) -> bool:
    """Whether a CPU generator accepts `state` (tried on a throwaway generator)."""
    try:
        torch.Generator().set_state(state)
    except (RuntimeError, ValueError):
        return False
    return True


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
        if value.layout != torch.strided or value.is_complex() or value.is_quantized:
            raise bad(name, f"entry {short(key, 40)} is a sparse, quantized or complex "
                      "tensor; gankit writes dense real weights")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"checkpoint weights {name}.{short(key, 60)[1:-1]} hold NaN "
                                  "or infinity (the run diverged before this save); use an "
                                  "earlier checkpoint of the run")


def _check_shapes(state: dict[str, Any], cfg: Any, where: str) -> None:
    """G's, D's (and the EMA's) weights have the names and shapes the config builds.

    The models are built on the meta device (nothing allocated), so a config asking for a
    huge model beside small weights is refused before anything builds it.
    """
    m = cfg.model
    try:
        with torch.device("meta"):
            g, d = build_models(m, tuple(state["sample_shape"]), state.get("n_classes", 0))
    except (GankitError, ValueError, RuntimeError, TypeError, IndexError) as err:
        raise CheckpointError(f"{where}: its config cannot build a model for its samples "
                              f"({short(str(err), 160)}); it is damaged") from None
    pairs = [("g", g, state["g"]), ("d", d, state["d"])]
    if state.get("ema") is not None:
        pairs.append(("ema", g, state["ema"]["model"]))
    for key, model in (("opt_g", g), ("opt_d", d)):
        _check_optimiser(state[key], [tuple(p.shape) for p in model.parameters()],
                         f"{where}: optimiser state {key}")
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


_ADAM_TENSORS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
"""Per-parameter tensors of Adam's state: each has its parameter's shape."""


def _check_optimiser(opt: dict[str, Any], shapes: list[tuple[int, ...]], where: str) -> None:
    """An Adam state_dict for parameters of `shapes`: hyper-parameters that are finite
    numbers, moments of the parameters' shapes (else it fails mid-training, not here)."""

    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{where} is invalid ({why}); the file is damaged or crafted: "
                               "use another checkpoint of the run")

    def number(value: Any) -> bool:
        return (not isinstance(value, bool) and isinstance(value, (int, float))
                and math.isfinite(value) and value >= 0)

    for group in opt["param_groups"]:
        for key in ("lr", "eps", "weight_decay"):
            if key in group and not number(group[key]):
                raise bad(f"{key} {short(group[key], 40)} is not a finite number >= 0")
        betas = group.get("betas", (0.0, 0.0))
        if (not isinstance(betas, (list, tuple)) or len(betas) != 2
                or not all(number(b) and b < 1 for b in betas)):
            raise bad(f"betas {short(betas, 40)} are not two numbers in [0, 1)")
        for index in group["params"]:
            if not _is_int(index) or not 0 <= index < len(shapes):
                raise bad(f"parameter index {short(index, 40)} is not in 0..{len(shapes) - 1}")
    for index, entry in opt["state"].items():
        if not _is_int(index) or not 0 <= index < len(shapes) or not isinstance(entry, dict):
            raise bad(f"state entry {short(index, 40)} is not a parameter's state")
        step = entry.get("step", 0)
        if isinstance(step, torch.Tensor):
            step = float(step.reshape(-1)[0]) if step.numel() == 1 and \
                step.layout == torch.strided and not step.is_complex() else -1.0
        if not number(step):
            raise bad(f"step of parameter {index} is not a count")
        for key in _ADAM_TENSORS:
            value = entry.get(key)
            if value is None:
                continue
            if (not isinstance(value, torch.Tensor) or value.layout != torch.strided
                    or not value.is_floating_point() or tuple(value.shape) != shapes[index]):
                got = tuple(value.shape) if isinstance(value, torch.Tensor) else \
                    type(value).__name__
                raise bad(f"{key} of parameter {index} is {short(got, 40)}, not a float "
                          f"tensor of its shape {shapes[index]}")
