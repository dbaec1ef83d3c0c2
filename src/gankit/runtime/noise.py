"""The run's random streams: the noise generator and, per rank, the global RNG.

Noise (G's latents z, fake class labels, WGAN-GP's interpolation weights, instance noise)
comes from one generator seeded alike on every rank and in a single process. Each draw is
the global batch's draw (rows for every rank), of which each rank keeps its own rows: the
ranks of a distributed run together see exactly the noise one process would draw. Dropout uses the
global torch RNG, seeded per rank (gankit.seeds.rank_seed).

For CUDA graphs (gankit.runtime.graphs) the source can record the plan of its draws
(`recording`) and serve draws from static buffers instead of fresh tensors (`from_buffers`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor

from gankit import seeds
from gankit.runtime.distributed import DistInfo, all_gather_objects

Draw = Callable[..., Tensor]
"""A random draw: `make()` returns fresh values, `make(out)` writes them into `out`."""

Plan = list[tuple[Draw, torch.Size, torch.dtype]]
"""The draws of one iteration, in order: (draw, global shape, dtype)."""


class NoiseSource:
    """Random draws for training, and the RNG state of the whole run."""

    def __init__(self, seed: int, device: torch.device, dist: DistInfo | None = None) -> None:
        self.seed = seed
        self.device = device
        self.dist = dist
        self.rank = dist.rank if dist is not None else 0
        self.world = dist.world_size if dist is not None else 1
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seeds.noise_seed(seed))
        self.pending: list[Tensor] | None = None
        """Static buffers the next draws come from (CUDA-graph capture), in order."""
        self._plan: Plan | None = None

    # ------------------------------------------------------------------ draws
    def rows(self, x: Tensor, n: int) -> Tensor:
        """This rank's n rows of a global draw of n * world rows."""
        return x[self.rank * n : (self.rank + 1) * n] if self.world > 1 else x

    def draw(self, n: int, rest: tuple[int, ...], dtype: torch.dtype,
             fill: Callable[[Tensor], Tensor]) -> Tensor:
        """This rank's rows of a global (n * world, *rest) draw made by `fill` on an empty
        tensor (torch.randn & co. are exactly empty + normal_ & co.)."""
        shape = (n * self.world, *rest)
        if self.pending is not None:
            return self.rows(self.pending.pop(0), n)

        def make(out: Tensor | None = None) -> Tensor:
            return fill(torch.empty(shape, dtype=dtype, device=self.device) if out is None
                        else out)

        out = make()
        if self._plan is not None:
            self._plan.append((make, out.shape, out.dtype))
        return self.rows(out, n)

    def normal(self, n: int, dim: int) -> Tensor:
        """z ~ N(0, I): (n, dim) float32."""
        gen = self.gen
        return self.draw(n, (dim,), torch.float32, lambda out: out.normal_(generator=gen))

    def gaussian(self, n: int, rest: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """N(0, 1) noise for n samples of shape `rest` (instance noise): (n, *rest)."""
        gen = self.gen
        return self.draw(n, rest, dtype, lambda out: out.normal_(generator=gen))

    def classes(self, n: int, k: int) -> Tensor:
        """n class labels uniform over 0..k-1: (n,) int64."""
        gen = self.gen
        return self.draw(n, (), torch.int64, lambda out: out.random_(0, k, generator=gen))

    def uniform(self, n: int, ndim: int, dtype: torch.dtype) -> Tensor:
        """U[0, 1) per sample, shaped (n, 1, ..., 1) with `ndim` dimensions."""
        gen = self.gen
        return self.draw(n, (1,) * (ndim - 1), dtype, lambda out: out.uniform_(generator=gen))

    # ------------------------------------------------------------ CUDA graphs
    @contextmanager
    def recording(self) -> Iterator[Plan]:
        """Record the plan of the draws made inside (their makers, shapes and dtypes)."""
        self._plan = []
        try:
            yield self._plan
        finally:
            self._plan = None

    @contextmanager
    def from_buffers(self, buffers: list[Tensor]) -> Iterator[list[Tensor]]:
        """Serve the draws made inside from `buffers`, in order; yields the queue (what is
        left in it afterwards was not drawn)."""
        queue = list(buffers)
        self.pending = queue
        try:
            yield queue
        finally:
            self.pending = None

    # ------------------------------------------------------------------ state
    def reseed(self, seed: int) -> None:
        """Fresh streams: the noise generator (alike on every rank) and this rank's global RNG."""
        self.gen.manual_seed(seeds.noise_seed(seed))
        torch.manual_seed(seeds.rank_seed(seed, self.rank))

    def state_dict(self) -> dict[str, Any]:
        """The noise generator's and the global RNGs' states; with several ranks, every rank's
        (a collective: all ranks call it together)."""
        rng: dict[str, Any] = {"torch": torch.get_rng_state(), "noise": self.gen.get_state(),
                               "noise_device": self.device.type}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        if self.world > 1:
            rng["ranks"] = all_gather_objects(self.dist, {k: v for k, v in rng.items()
                                                          if k in ("torch", "cuda")})
        return rng

    def load_state_dict(self, rng: dict[str, Any], iteration: int) -> None:
        """Restore `state_dict()`; a state this process cannot use is replaced by streams
        seeded from (seed, rank, iteration)."""
        mine: dict[str, Any] | None = rng
        if self.world > 1:
            ranks = rng.get("ranks")
            if ranks is not None and len(ranks) == self.world:
                mine = {**rng, **ranks[self.rank]}
            elif self.rank > 0:
                mine = None  # saved with another number of ranks: fresh dropout RNG
        if mine is None:
            torch.manual_seed(seeds.rank_seed(self.seed, self.rank, iteration))
        else:
            torch.set_rng_state(mine["torch"])
            if "cuda" in mine and self.device.type == "cuda":
                torch.cuda.set_rng_state(mine["cuda"], self.device)
        if "noise" in rng and rng.get("noise_device", "cpu") == self.device.type:
            self.gen.set_state(rng["noise"])
        else:  # saved on another kind of device (or before the noise generator existed)
            self.gen.manual_seed(seeds.noise_seed(self.seed, iteration))
