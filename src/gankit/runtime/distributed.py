"""Many processes through torchrun: who am I, the process group, and rank-0-only work.

`torchrun --nproc-per-node N -m gankit train ...` starts N copies of gankit with the env
variables RANK, WORLD_SIZE and LOCAL_RANK set; `from_env()` reads them (None when absent
or WORLD_SIZE is 1: a plain single-process run). `session(device)` joins the process
group (gloo on CPU, nccl on CUDA) and leaves it at the end.

How a distributed run splits the work (gankit.core.trainer does the splitting):
- every rank holds the whole data set and the same shuffle of each epoch; rank r trains
  on rows [r*b, (r+1)*b) of each global batch of B = train.batch_size images, b = B / N;
- every rank draws the global batch's noise (B vectors) from a generator seeded alike on
  all ranks and in a single-process run, and keeps its own rows: the N ranks together
  see exactly the noise one process would draw;
- G and D are each wrapped in DistributedDataParallel, which averages gradients over the
  ranks: the mean of N per-rank means of b samples is the mean over the global batch;
- dropout masks come from each rank's own global RNG (seeded seed + rank).
Only rank 0 writes the run folder; `on_main(fn)` runs fn there and hands its result, or
its GankitError, to every rank so that no rank waits forever on a failed one.
Importing this module touches nothing.
"""

from __future__ import annotations

import gc
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from gankit.errors import ConfigError, GankitError

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    """This process's place in a distributed run."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def from_env(env: dict[str, str] | None = None) -> DistInfo | None:
    """RANK / WORLD_SIZE / LOCAL_RANK as torchrun sets them; None for a single process."""
    env = dict(os.environ) if env is None else env
    if "WORLD_SIZE" not in env:
        return None
    try:
        world = int(env["WORLD_SIZE"])
        rank = int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ConfigError(f"torchrun variables RANK={env.get('RANK')!r} WORLD_SIZE="
                          f"{env.get('WORLD_SIZE')!r} LOCAL_RANK={env.get('LOCAL_RANK')!r} "
                          "are not integers; start gankit with torchrun") from None
    if world <= 1:
        return None
    if not 0 <= rank < world:
        raise ConfigError(f"RANK={rank} is outside 0..{world - 1}; start gankit with torchrun")
    return DistInfo(rank, world, local)


def device_for(info: DistInfo | None, device: torch.device) -> torch.device:
    """CUDA ranks use the GPU numbered by LOCAL_RANK; CPU ranks stay on the CPU."""
    if info is None or device.type != "cuda":
        return device
    count = torch.cuda.device_count()
    if info.local_rank >= count:
        raise ConfigError(f"LOCAL_RANK {info.local_rank} but this machine has {count} GPU(s); "
                          f"use --nproc-per-node {count} or less")
    return torch.device("cuda", info.local_rank)


@contextmanager
def session(info: DistInfo | None, device: torch.device) -> Iterator[None]:
    """Join the process group for the duration (nothing for a single process)."""
    if info is None:
        yield
        return
    import torch.distributed as dist

    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    owned = not dist.is_initialized()
    if owned:
        _check_rendezvous(info)
        kwargs: dict[str, Any] = {"backend": backend, "rank": info.rank,
                                  "world_size": info.world_size}
        if device.type == "cuda" and "device_id" in inspect.signature(
                dist.init_process_group).parameters:
            kwargs["device_id"] = device
        dist.init_process_group(**kwargs)
    try:
        yield
    except BaseException:
        if owned and dist.is_initialized():
            gc.collect()
            dist.destroy_process_group()
        raise
    if owned and dist.is_initialized():
        # Free the run's DDP wrappers now (a trainer in a reference cycle would otherwise
        # live until interpreter exit, and a DDP reducer destroyed then, with the process
        # group's threads, can abort in C++: "terminate called without an active exception").
        gc.collect()
        # Every rank reaches this point before any tears down: rank 0 may host the store.
        dist.barrier()
        dist.destroy_process_group()


def _check_rendezvous(info: DistInfo) -> None:
    """A stray WORLD_SIZE (no torchrun) is one line, not torch's ValueError; joining a
    group without torchrun's agent says what it waits for, so a silent wait explains itself."""
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(k)]
    if missing:
        raise ConfigError(f"WORLD_SIZE={info.world_size} is set but {' and '.join(missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} not: start a distributed "
                          "run with torchrun; for a single process unset WORLD_SIZE (and RANK, "
                          "LOCAL_RANK)")
    if info.is_main and not any(k.startswith("TORCHELASTIC") for k in os.environ):
        print(f"gankit: rank 0 of WORLD_SIZE={info.world_size} (not under torchrun) waits for "
              f"the other processes at {os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}; "
              "if this is meant as a single process, stop it (Ctrl-C) and unset WORLD_SIZE",
              file=sys.stderr, flush=True)


def barrier(info: DistInfo | None) -> None:
    """Wait for every rank (nothing for a single process)."""
    if info is not None:
        import torch.distributed as dist

        dist.barrier()


def on_main(info: DistInfo | None, fn: Callable[[], T]) -> T:
    """Run fn on rank 0 only; every rank gets its result, or raises its GankitError."""
    if info is None:
        return fn()
    import torch.distributed as dist

    box: list[Any] = [None]
    if info.is_main:
        try:
            box[0] = ("ok", fn())
        except GankitError as err:
            box[0] = ("error", str(err))
            dist.broadcast_object_list(box, src=0)
            raise
    dist.broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == "error":
        raise GankitError(value)
    return value


def all_gather_objects(info: DistInfo | None, obj: Any) -> list[Any]:
    """[obj of rank 0, obj of rank 1, ...]; [obj] for a single process."""
    if info is None:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def mean_over_ranks(info: DistInfo | None, t: torch.Tensor) -> torch.Tensor:
    """The mean of a tensor over ranks (in place on a copy); t itself for one process."""
    if info is None:
        return t
    import torch.distributed as dist

    out = t.clone()
    dist.all_reduce(out)
    return out / info.world_size


def wrap_ddp(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """`module` in DistributedDataParallel (gradients averaged over the ranks)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device] if device.type == "cuda" else None
    return DDP(module, device_ids=ids, gradient_as_bucket_view=True)
