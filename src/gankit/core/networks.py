"""A run's networks: G, D and their optimisers built from the config (seeded, compiled or
wrapped in DDP as asked), restored from a whole-run state, and the data fingerprint."""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import Tensor, nn

from gankit import seeds
from gankit.config import Config
from gankit.core.ema import EMA
from gankit.core.models import build_models
from gankit.core.state import describe_load_error
from gankit.errors import CheckpointError
from gankit.runtime import device as rt
from gankit.runtime.distributed import wrap_ddp


def build_networks(
    cfg: Config, shape: tuple[int, ...], n_classes: int, device: torch.device, world: int,
    graphs: bool,
) -> tuple[nn.Module, nn.Module, torch.optim.Optimizer, torch.optim.Optimizer, nn.Module,
           nn.Module]:
    """(G, D, G's Adam, D's Adam, the G and D the steps call) of a run, seeded by
    train.seed; compiled when asked; wrapped in DDP when `world` > 1 (G's step calls D's
    own module: D is frozen there). `graphs`: capturable Adam for CUDA graphs."""
    t = cfg.train
    g, d = seeded_models(cfg, shape, n_classes)
    g.to(device)
    d.to(device)
    opt_g = rt.make_adam(g.parameters(), t.lr_g, (t.beta1_g, t.beta2), graphs, t.adam_eps)
    opt_d = rt.make_adam(d.parameters(), t.lr_d, (t.beta1_d, t.beta2), graphs, t.adam_eps)
    if t.compile:
        g.compile()
        d.compile()
    g_run = wrap_ddp(g, device) if world > 1 else g
    d_run = wrap_ddp(d, device) if world > 1 else d
    return g, d, opt_g, opt_d, g_run, d_run


def seeded_models(cfg: Config, shape: tuple[int, ...], n_classes: int = 0
                  ) -> tuple[nn.Module, nn.Module]:
    """A run's G and D with their initial weights: the global RNG seeded from train.seed
    (gankit.seeds.weights_seed), then gankit.core.models.build_models."""
    torch.manual_seed(seeds.weights_seed(cfg.train.seed))
    return build_models(cfg.model, shape, n_classes)


def load_networks(state: dict[str, Any], g: nn.Module, d: nn.Module,
                  opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                  ema: EMA | None) -> None:
    """G, D, both Adams (and the EMA) from a whole-run state; a misfit is a CheckpointError
    naming the key and shapes."""
    try:
        g.load_state_dict(state["g"])
        d.load_state_dict(state["d"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        if ema is not None:
            if "ema" not in state:
                raise KeyError("ema (the checkpoint was trained without train.ema)")
            ema.load_state_dict(state["ema"])
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"checkpoint does not fit this model: "
                              f"{describe_load_error(err)}") from None


def data_sha256(data: Tensor, labels: Tensor | None) -> str:
    """SHA256 of training samples (float32 bytes) and their labels."""
    h = hashlib.sha256()
    h.update(data.detach().float().contiguous().cpu().numpy())
    if labels is not None:
        h.update(labels.detach().contiguous().cpu().numpy())
    return h.hexdigest()
