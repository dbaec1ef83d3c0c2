"""CUDA graphs: a whole training iteration (D step, G step, EMA, statistics) as one replay.

On a GPU the notes' MLP GAN is bound by kernel launches, not arithmetic: an eager iteration
launches a couple of hundred small kernels from Python, which on an H100 takes about ten
times as long as its matrix products (measured: see benchmarks/README.md). Capturing the
iteration once and replaying it launches it as one graph.

`IterationGraphs` is handed a step function (one iteration's tensor work) and the noise
source it draws from; it knows nothing else of the training. The Trainer makes one when
`train.cuda_graphs` is on, the device is CUDA and the run is a single process. It runs the
first `WARMUP` iterations of each kind (with and without a G step, for n_critic > 1) eagerly
on a side stream, as CUDA graphs require, then captures one and replays it for every later
iteration of that kind. What changes between replays lives in static tensors filled just
before each replay:

- the batch's indices into the data tensor (one copy);
- the noise, fake class labels and WGAN-GP weights, drawn eagerly from the noise source
  (gankit.runtime.noise) into static buffers in the order the iteration draws them, so the random
  streams are the eager run's, draw for draw (graphs only replay the default generator);
- the EMA weight 1 - d of this update (its decay warms up with the update count).

Dropout draws from the default CUDA generator inside the graph (graph-safe: each replay
advances its offset). The step's Python side runs once, at capture, so the step must count
nothing: the caller keeps its counters (G steps, EMA updates). Anything that replaces weights
or optimiser state (a checkpoint load, the NaN guard's rollback) must `reset()` the graphs,
and a new `key` (the data tensor's identity) captures anew; the next iterations warm up again.
A capture that fails warns, sets `failed` and runs the iteration eagerly.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gankit.runtime.noise import Draw, NoiseSource, Plan

WARMUP = 3
"""Eager iterations of each kind before its capture."""

Step = Callable[[Tensor, bool, "Tensor | None"], Tensor]
"""step(index, with_g, ema_weight) -> the iteration's stat vector. `ema_weight` is a 0-dim
tensor holding 1 - decay of this EMA update, or None (the step computes it)."""


@dataclass
class _Captured:
    graph: Any  # torch.cuda.CUDAGraph
    index: Tensor  # static batch indices
    draws: list[tuple[Draw, Tensor]]  # (draw, its static buffer), in the iteration's order
    ema_weight: Tensor | None  # static 1 - decay of the EMA update
    stats: Tensor  # the iteration's stat vector, rewritten by each replay


class IterationGraphs:
    """Eager warm-up, capture and replay of a step function (see the module doc)."""

    def __init__(self, step: Step, noise: NoiseSource, device: torch.device,
                 before_capture: Callable[[], None] = lambda: None) -> None:
        """`before_capture()` runs just before each capture (e.g. to drop gradients, so that
        the captured backward allocates them in the graph's memory pool)."""
        self.step_fn, self.noise, self.device = step, noise, device
        self.before_capture = before_capture
        self.captured: dict[tuple[Any, ...], _Captured] = {}
        self.warm: dict[bool, int] = {}
        self.plans: dict[bool, Plan] = {}
        self.replays = 0
        self.failed = False

    def reset(self) -> None:
        """Discard every graph (weights, optimiser state or data were replaced)."""
        self.captured.clear()
        self.warm.clear()
        self.plans.clear()

    def step(self, index: Tensor, with_g: bool, ema_weight: float | None = None,
             key: Hashable = None) -> Tensor:
        """One iteration on the samples at `index` (a D step, then a G step if `with_g`);
        `ema_weight`: 1 - decay of this iteration's EMA update (None: no EMA update).
        Returns its stat vector, valid until the next call."""
        full_key = (with_g, key)
        entry = self.captured.get(full_key)
        if entry is None:
            done = self.warm.get(with_g, 0)
            if done < WARMUP:
                self.warm[with_g] = done + 1
                return self._eager(index, with_g, plan=done + 1 == WARMUP)
            try:
                entry = self._capture(index, with_g, ema_weight is not None)
            except RuntimeError as err:  # e.g. an op this torch cannot capture
                first = (str(err).strip().splitlines() or ["?"])[0][:200]
                warnings.warn(f"CUDA graph capture failed ({first}); training goes on "
                              "without graphs (--set train.cuda_graphs=false hides this)",
                              RuntimeWarning, stacklevel=2)
                self.failed = True
                return self.step_fn(index, with_g, None)
            self.captured[full_key] = entry
        return self._replay(entry, index, ema_weight)

    # The two CUDA-specific operations (a test replaces them to check the logic on a CPU).
    def run_on_side_stream(self, fn: Callable[[], Tensor]) -> Tensor:
        """fn() on a side stream, as the warm-up before a capture must run."""
        main = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
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
        if not plan:
            return self.run_on_side_stream(lambda: self.step_fn(index, with_g, None))
        with self.noise.recording() as recorded:
            stats = self.run_on_side_stream(lambda: self.step_fn(index, with_g, None))
        self.plans[with_g] = recorded
        return stats

    def _capture(self, index: Tensor, with_g: bool, ema: bool) -> _Captured:
        draws = [(make, torch.empty(shape, dtype=dtype, device=self.device))
                 for make, shape, dtype in self.plans[with_g]]
        static_index = index.clone()
        ema_weight = torch.zeros((), device=self.device) if ema else None
        self.before_capture()
        with self.noise.from_buffers([buf for _, buf in draws]) as queue:
            graph, stats = self.record(lambda: self.step_fn(static_index, with_g, ema_weight))
        if queue:
            raise RuntimeError(f"CUDA graph capture used {len(draws) - len(queue)} of the "
                               f"{len(draws)} planned random draws")
        return _Captured(graph, static_index, draws, ema_weight, stats)

    def _replay(self, e: _Captured, index: Tensor, ema_weight: float | None) -> Tensor:
        for make, buf in e.draws:  # the eager run's draws, in its order, into the buffers
            make(buf)
        e.index.copy_(index)
        if ema_weight is not None and e.ema_weight is not None:
            e.ema_weight.fill_(ema_weight)
        e.graph.replay()
        self.replays += 1
        return e.stats
