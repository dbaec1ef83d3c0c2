"""The lab's panels: a thin adapter over each of gankit's two toy trainers, so the lab steps,
draws and inspects either the same way.

- `SerialGroup`: P serial `Trainer`s (gankit.core.trainer), one config each (the three-games
  view, the single run, the MNIST view);
- `SeedGroup`: the S seeds of one `BatchedToyGANs` (gankit.runs.batched).

Each offers: `size`, `games`, `seeds`, `lead` (the GANStep whose `iterations` deal the
panels' batches, as its `run_epoch` does), the counters (`iteration`, `epoch`, `elapsed`, and
`count` to advance them), `iteration_step(index (P, B), with_g) -> stats (P, K)`,
`d_step(index)` and `g_step()` -> stats of (P,) tensors, `optimisers()`, `g_fn(z) -> (P, n, V)`,
`d_fn(x (P, n, V)) -> (P, n)` and `params(k)` (panel k's D and G weights, flattened). Only
the trainers' public surface is used (listed in each class), so a change of their insides
leaves this module alone.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.config import Config
from gankit.core.trainer import Trainer
from gankit.runs.batched import BatchedToyGANs
from gankit.stats import STAT_NAMES


class SerialGroup:
    """Panels that are serial `Trainer`s (one config each), stepped together.

    Uses of Trainer: the constructor, `iterations(perm)`, `iteration_step(index, with_g)`,
    `d_step(real)`,
    `g_step(batch)`, `local_batch`, `data`, `g`, `d`, `opt_d`, `opt_g`, `game`, the counters
    `iteration`, `g_steps`, `epoch`, `elapsed`, `state_dict()`, `sample()` (MNIST view)."""

    def __init__(self, cfgs: list[Config], data: Tensor) -> None:
        self.trainers = [Trainer(c, data, "cpu") for c in cfgs]
        self.games = [t.game for t in self.trainers]
        self.seeds = [c.train.seed for c in cfgs]

    @property
    def size(self) -> int:
        return len(self.trainers)

    @property
    def lead(self) -> Trainer:
        """The first panel's trainer: the counters and config all panels share."""
        return self.trainers[0]

    @property
    def iteration(self) -> int:
        return self.trainers[0].iteration

    @property
    def epoch(self) -> int:
        return self.trainers[0].epoch

    @property
    def elapsed(self) -> float:
        return self.trainers[0].elapsed

    def count(self, iterations: int = 0, g_steps: int = 0, epochs: int = 0,
              seconds: float = 0.0) -> None:
        for t in self.trainers:
            t.iteration += iterations
            t.g_steps += g_steps
            t.epoch += epochs
            t.elapsed += seconds

    def iteration_step(self, index: Tensor, with_g: bool) -> Tensor:
        """index (P, B) -> stats (P, K)."""
        return torch.stack([t.iteration_step(index[k], with_g)
                            for k, t in enumerate(self.trainers)])

    def d_step(self, index: Tensor) -> dict[str, Tensor]:
        stats = [t.d_step(t.data.index_select(0, index[k]))
                 for k, t in enumerate(self.trainers)]
        return _stack_dicts(stats)

    def g_step(self) -> dict[str, Tensor]:
        return _stack_dicts([t.g_step(t.local_batch) for t in self.trainers])

    def optimisers(self) -> list[tuple[torch.optim.Optimizer, torch.optim.Optimizer]]:
        return [(t.opt_d, t.opt_g) for t in self.trainers]

    def g_fn(self, z: Tensor) -> Tensor:
        return torch.stack([t.g(z) for t in self.trainers])

    def d_fn(self, x: Tensor) -> Tensor:
        return torch.stack([t.d(x[k]).reshape(-1) for k, t in enumerate(self.trainers)])

    def params(self, k: int) -> tuple[Tensor, Tensor]:
        """Panel k's (D's, G's) weights, each flattened into one vector."""
        t = self.trainers[k]
        return _flat(t.d.parameters()), _flat(t.g.parameters())


class SeedGroup:
    """Panels that are the seeds of one `BatchedToyGANs`.

    Uses of BatchedToyGANs: the constructor, `iterations(perm)`, `iteration_step(index,
    with_g)`, `d_step(real)`,
    `g_step(batch)`, `data`, `g`, `d` (called on (S, n, V); `parameters()`), `opt_d`, `opt_g`,
    `game`, `seeds`, `size`, `cfg`, `generate(z)`, the counters `iteration`, `g_steps`,
    `epoch`, `elapsed`."""

    def __init__(self, cfgs: list[Config], data: Tensor) -> None:
        self.bt = BatchedToyGANs(cfgs, data)
        self.games = [self.bt.game] * self.bt.size
        self.seeds = list(self.bt.seeds)

    @property
    def size(self) -> int:
        return self.bt.size

    @property
    def lead(self) -> BatchedToyGANs:
        return self.bt

    @property
    def iteration(self) -> int:
        return self.bt.iteration

    @property
    def epoch(self) -> int:
        return self.bt.epoch

    @property
    def elapsed(self) -> float:
        return self.bt.elapsed

    def count(self, iterations: int = 0, g_steps: int = 0, epochs: int = 0,
              seconds: float = 0.0) -> None:
        self.bt.iteration += iterations
        self.bt.g_steps += g_steps
        self.bt.epoch += epochs
        self.bt.elapsed += seconds

    def iteration_step(self, index: Tensor, with_g: bool) -> Tensor:
        return self.bt.iteration_step(index, with_g)

    def d_step(self, index: Tensor) -> dict[str, Tensor]:
        return self.bt.d_step(self.bt.data[index])

    def g_step(self) -> dict[str, Tensor]:
        return self.bt.g_step(self.bt.cfg.train.batch_size)

    def optimisers(self) -> list[tuple[torch.optim.Optimizer, torch.optim.Optimizer]]:
        return [(self.bt.opt_d, self.bt.opt_g)]

    def g_fn(self, z: Tensor) -> Tensor:
        return self.bt.g(z.expand(self.size, -1, -1))

    def d_fn(self, x: Tensor) -> Tensor:
        return self.bt.d(x).squeeze(-1)

    def params(self, k: int) -> tuple[Tensor, Tensor]:
        d, g = self.bt.d, self.bt.g
        return (torch.cat([p[k].detach().reshape(-1) for p in d.parameters()]),
                torch.cat([p[k].detach().reshape(-1) for p in g.parameters()]))


def _flat(params: Any) -> Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params])


def _stack_dicts(stats: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    return {k: torch.stack([s[k].float() for s in stats]) for k in stats[0]}


def vector(stats: dict[str, Tensor], p: int) -> Tensor:
    """Stats of (P,) tensors -> (P, K) in STAT_NAMES order, 0 where absent (as the trainer)."""
    zero = torch.zeros(p)
    return torch.stack([stats[n].float() if n in stats else zero for n in STAT_NAMES], dim=1)
