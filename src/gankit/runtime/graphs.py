"""CUDA graphs: a whole training iteration (D step, G step, EMA, statistics) as one replay.

On a GPU the notes' MLP GAN is bound by kernel launches, not arithmetic: an eager iteration
launches a couple of hundred small kernels from Python, which on an H100 takes about ten
times as long as its matrix products (measured: see benchmarks/README.md). Capturing the
iteration once and replaying it launches it as one graph.

`IterationGraphs` (owned by the Trainer when `train.cuda_graphs` is on, the device is CUDA
and the run is a single process) runs the first `WARMUP` iterations of each kind (with and
without a G step, for n_critic > 1) eagerly on a side stream, as CUDA graphs require, then
captures one and replays it for every later iteration of that kind. What changes between
replays lives in static tensors filled just before each replay:

- the batch's indices into the data tensor (one copy);
- the noise, fake class labels and WGAN-GP weights, drawn eagerly from the trainer's noise
  generator into static buffers in the order the iteration draws them, so the random
  streams are the eager run's, draw for draw (graphs only replay the default generator);
- the EMA weight 1 - d of this update (its decay warms up with the update count).

Dropout draws from the default CUDA generator inside the graph (graph-safe: each replay
advances its offset). Python-side counters (G steps, EMA updates) are advanced per replay.
Anything that replaces weights or optimiser state (a checkpoint load, the NaN guard's
rollback) or the data tensor discards the graphs; the next iterations warm up again.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

if TYPE_CHECKING:
    from gankit.core.trainer import Trainer

WARMUP = 3
"""Eager iterations of each kind before its capture."""

Draw = Callable[..., Tensor]
"""A random draw: `make()` returns fresh values, `make(out)` writes them into `out`."""


@dataclass
class _Captured:
    graph: Any  # torch.cuda.CUDAGraph
    index: Tensor  # static batch indices
    draws: list[tuple[Draw, Tensor]]  # (draw, its static buffer), in the iteration's order
    ema_weight: Tensor | None  # static 1 - decay of the EMA update
    stats: Tensor  # the iteration's stat vector, rewritten by each replay


class IterationGraphs:
    """Eager warm-up, capture and replay of the trainer's iterations (see the module doc)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.captured: dict[tuple[Any, ...], _Captured] = {}
        self.warm: dict[bool, int] = {}
        self.plans: dict[bool, list[tuple[Draw, torch.Size, torch.dtype]]] = {}
        self.replays = 0

    def reset(self) -> None:
        """Discard every graph (weights, optimiser state or data were replaced)."""
        self.captured.clear()
        self.warm.clear()
        self.plans.clear()

    def step(self, index: Tensor, with_g: bool) -> Tensor:
        """One iteration on the samples at `index` (a D step, then a G step if `with_g`);
        returns its stat vector, valid until the next call."""
        t = self.trainer
        key = (with_g, t.data.data_ptr(), t.data.shape[0])
        entry = self.captured.get(key)
        if entry is None:
            done = self.warm.get(with_g, 0)
            if done < WARMUP:
                self.warm[with_g] = done + 1
                return self._eager(index, with_g, plan=done + 1 == WARMUP)
            try:
                entry = self._capture(index, with_g)
            except RuntimeError as err:  # e.g. an op this torch cannot capture
                first = (str(err).strip().splitlines() or ["?"])[0][:200]
                warnings.warn(f"CUDA graph capture failed ({first}); training goes on "
                              "without graphs (--set train.cuda_graphs=false hides this)",
                              RuntimeWarning, stacklevel=2)
                t.graphs = None
                return t.iteration_step(index, with_g)
            self.captured[key] = entry
        return self._replay(entry, index, with_g)

    # The two CUDA-specific operations (a test replaces them to check the logic on a CPU).
    def run_on_side_stream(self, fn: Callable[[], Tensor]) -> Tensor:
        """fn() on a side stream, as the warm-up before a capture must run."""
        device = self.trainer.device
        main = torch.cuda.current_stream(device)
        side = torch.cuda.Stream(device)
        side.wait_stream(main)
        with torch.cuda.stream(side):
            out = fn()
        main.wait_stream(side)
        return out

    def record(self, fn: Callable[[], Tensor]) -> tuple[Any, Tensor]:
        """Capture fn() (nothing runs) into a graph: (graph with .replay(), fn's output)."""
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = fn()
        return graph, out

    def _eager(self, index: Tensor, with_g: bool, plan: bool) -> Tensor:
        """A warm-up iteration; the last one records the plan of its random draws."""
        t = self.trainer
        recorded: list[tuple[Draw, torch.Size, torch.dtype]] = []
        t.draw_hook = (lambda make, out: recorded.append((make, out.shape, out.dtype))) \
            if plan else None
        try:
            stats = self.run_on_side_stream(lambda: t.iteration_step(index, with_g))
        finally:
            t.draw_hook = None
        if plan:
            self.plans[with_g] = recorded
        return stats

    def _capture(self, index: Tensor, with_g: bool) -> _Captured:
        t = self.trainer
        draws = [(make, torch.empty(shape, dtype=dtype, device=t.device))
                 for make, shape, dtype in self.plans[with_g]]
        static_index = index.clone()
        ema_weight = torch.zeros((), device=t.device) if t.ema is not None else None
        counters = (t.g_steps, t.ema.updates if t.ema is not None else 0)
        queue = [buf for _, buf in draws]
        t.static_draws, t.static_ema_weight = queue, ema_weight
        # Gradients are allocated by the captured backward, inside the graph's memory pool.
        t.opt_d.zero_grad(set_to_none=True)
        t.opt_g.zero_grad(set_to_none=True)
        try:
            graph, stats = self.record(lambda: t.iteration_step(static_index, with_g))
        finally:
            t.static_draws, t.static_ema_weight = None, None
            # capturing ran the Python side of the step once; the replays count themselves
            t.g_steps = counters[0]
            if t.ema is not None:
                t.ema.updates = counters[1]
        if queue:
            raise RuntimeError(f"CUDA graph capture used {len(draws) - len(queue)} of the "
                               f"{len(draws)} planned random draws")
        return _Captured(graph, static_index, draws, ema_weight, stats)

    def _replay(self, e: _Captured, index: Tensor, with_g: bool) -> Tensor:
        t = self.trainer
        for make, buf in e.draws:  # the eager run's draws, in its order, into the buffers
            make(buf)
        e.index.copy_(index)
        if with_g and e.ema_weight is not None and t.ema is not None:
            e.ema_weight.fill_(1.0 - t.ema.current_decay())
        e.graph.replay()
        self.replays += 1
        if with_g:
            t.g_steps += 1
            if t.ema is not None:
                t.ema.updates += 1
        return e.stats
