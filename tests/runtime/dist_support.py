"""Test helper: start N processes the way torchrun does (RANK, WORLD_SIZE, ...), wait for all."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(script: Path, world: int, *args: object) -> None:
    """Run `python script *args` as `world` ranks on loopback; assert every rank exits 0.

    As torchrun does, this process hosts the rendezvous store (TORCHELASTIC_USE_AGENT_STORE)
    and outlives the ranks, so no rank tears the store down under a peer still leaving.
    """
    store = None
    if world > 1:
        import torch.distributed as dist

        store = dist.TCPStore("127.0.0.1", 0, world_size=world, is_master=True,
                              wait_for_workers=False)
    procs = []
    for rank in range(world):
        env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARS}
        if store is not None:
            env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(store.port),
                       TORCHELASTIC_USE_AGENT_STORE="True")
        procs.append(subprocess.Popen(
            [sys.executable, str(script), *map(str, args)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    del store  # after every rank has exited
    for p, text in zip(procs, outputs, strict=True):
        assert p.returncode == 0, text
