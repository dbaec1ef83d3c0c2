"""The run folder: everything a training run writes, in one object.

Layout of a run folder:
  config.yaml            the full config, readable
  metrics.jsonl          one record per epoch (losses, D(x), D(G(z)), diagnostics, timing;
                         toy sets add modes_covered, hq_share, js_hist: gankit.runs.toy)
  tensorboard/           the same numbers and the grids, with --tensorboard
  samples/epoch_0001.png 10 x 10 grids from the fixed latents (epoch 1, every
                         `sample_every` epochs, and the last epoch); for toy sets a
                         snapshot instead: samples and D(x) (gankit.runs.toy)
  checkpoints/epoch_NNNN.pt  whole-run states (the newest `keep_checkpoints`)
  report.html            the run's report, written at the end (gankit.report)

Under torchrun only rank 0 writes; `RunFolder(main=False)` writes nothing. Every write that
fails becomes one GankitError naming the file, the folder and how to resume.
"""

from __future__ import annotations

import errno
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gankit.config import Config, dump_yaml
from gankit.data.toy import get_toy
from gankit.datasets import is_toy
from gankit.errors import GankitError
from gankit.fileio import write_text_atomic
from gankit.log import JsonlLogger
from gankit.runlock import LOCK_NAME, RunLock
from gankit.runs import checkpoint as ckpt
from gankit.runs.toy import eval_latents, save_toy_snapshot, toy_epoch_metrics
from gankit.viz.images import save_grid


def prepare_run_dir(out: Path, lock: RunLock | None = None,
                    again: str = "add --resume to continue it, or choose another --out") -> Path:
    """Create a new, empty run folder; refuse to reuse one that holds anything.

    With `lock`, the folder is locked first (gankit.runlock), so two processes racing for
    the same new folder cannot both pass the emptiness check. `again`: the fix to suggest.
    """
    if out.exists() and not out.is_dir():
        raise GankitError(f"output {str(out)!r} is a file, not a folder; choose another --out")
    if lock is not None and (out.is_dir() or not out.exists()):
        try:
            lock.acquire(out)
        except OSError as err:
            raise GankitError(f"cannot write to output folder {str(out)!r}: "
                              f"{err.strerror or err}; choose a writable --out") from None
    if out.is_dir() and any(p.name != LOCK_NAME for p in out.iterdir()):
        raise GankitError(f"run folder {str(out)!r} already exists and is not empty; {again}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise GankitError(f"cannot write to output folder {str(out)!r}: "
                          f"{err.strerror or err}; choose a writable --out") from None
    return out


@contextmanager
def writing(out: Path, target: Path) -> Iterator[None]:
    """Turn an OSError while writing `target` into a one-line GankitError naming the folder."""
    try:
        yield
    except OSError as err:
        code = errno.errorcode.get(err.errno or 0, "")
        reason = f"{err.strerror or err}" + (f" [{code}]" if code else "")
        raise GankitError(
            f"cannot write {target.name} in run folder {str(out)!r}: {reason}; the newest "
            f"checkpoint in it is intact: free space or fix the folder, then continue with "
            f"gankit train --resume --out {shlex.quote(str(out))}"
        ) from None


class RunFolder:
    """Writes one run's folder (see the module doc); a no-op on ranks other than 0."""

    def __init__(self, out: Path, cfg: Config, main: bool = True, run_id: str = "") -> None:
        """`run_id`: the run's id, kept in config.yaml and every checkpoint (a checkpoint of
        another run copied into the folder is never resumed from nor counted when pruning)."""
        self.out, self.cfg, self.main, self.run_id = out, cfg, main, run_id
        self.metrics = JsonlLogger(out / "metrics.jsonl")
        self.tb: Any = None
        self.toy = get_toy(cfg.data.dataset) if is_toy(cfg.data.dataset) else None
        self.toy_z = eval_latents(cfg.model.z_dim) if self.toy is not None else None

    def open(self, epoch: int, used: dict[str, str] | None = None) -> None:
        """Write config.yaml, drop metrics records after `epoch` (a resume from an older
        checkpoint), open TensorBoard when asked for.

        `used`: what `auto` settings resolved to on this machine (device_used,
        precision_used), recorded in config.yaml beside the run id (the settings keep
        `auto`, so the file still trains anywhere)."""
        if not self.main:
            return
        info = "".join(f"{k}: {v}\n" for k, v in (used or {}).items())
        with writing(self.out, self.out / "config.yaml"):
            write_text_atomic(self.out / "config.yaml",
                              dump_yaml(self.cfg) + f"run_id: {self.run_id}\n" + info)
        with writing(self.out, self.metrics.path):
            self.metrics.truncate_after(epoch)
        if self.cfg.train.tensorboard:
            from gankit.runs.tb import TensorBoardLogger

            with writing(self.out, self.out / "tensorboard"):
                self.tb = TensorBoardLogger(self.out / "tensorboard")

    def epoch_metrics(self, trainer: Any) -> dict[str, Any]:
        """Toy sets: the modes covered, high-quality share and histogram JS of G's samples."""
        if self.toy is None:
            return {}
        return toy_epoch_metrics(trainer.g, self.toy, self.toy_z)

    def log(self, record: dict[str, Any]) -> None:
        """One epoch's record into metrics.jsonl (and TensorBoard)."""
        with writing(self.out, self.metrics.path):
            self.metrics.log(record)
        if self.tb is not None:
            with writing(self.out, self.out / "tensorboard"):
                self.tb.log(record)

    def samples(self, trainer: Any, epoch: int) -> None:
        """The grid of the fixed latents (toy sets: a snapshot of samples and D)."""
        picture = self.out / "samples" / f"epoch_{epoch:04d}.png"
        if self.toy is None:
            grid = trainer.sample()
            save_grid(grid, picture, nrow=10)
            if self.tb is not None:
                with writing(self.out, self.out / "tensorboard"):
                    self.tb.log_images("samples", grid, epoch)
        else:
            with writing(self.out, picture):
                save_toy_snapshot(trainer.g, trainer.d, self.toy, self.toy_z, picture,
                                  title=f"{self.toy.name}, {self.cfg.loss.game} game, "
                                        f"epoch {epoch}")

    def checkpoint(self, state: dict[str, Any], epoch: int,
                   log: Callable[[str], None] = print) -> None:
        """The whole-run state after `epoch`, atomically; older ones pruned.

        A file already at that name is not this run's (resume took the newest good one): a
        copied-in or damaged checkpoint. It is renamed aside, never overwritten."""
        target = self.out / ckpt.CHECKPOINT_DIR / ckpt.checkpoint_name(epoch)
        state["run_id"] = self.run_id
        with writing(self.out, target):
            if target.exists() or target.is_symlink():
                kept = ckpt.set_aside(target)
                log(f"warning: {target.name} in {target.parent} was not a checkpoint this run "
                    f"resumed from (another run's, or damaged); kept it as {kept.name} and "
                    f"wrote the run's own epoch {epoch}")
            ckpt.save_atomic(state, target)
            ckpt.prune(self.out, self.cfg.train.keep_checkpoints, self.run_id)

    def close(self, log: Callable[[str], None]) -> None:
        """Close TensorBoard; write report.html."""
        if self.tb is not None:
            self.tb.close()
        if self.main:
            self.report(log)

    def report(self, log: Callable[[str], None]) -> None:
        """Write report.html (a failure is a warning: the run itself is done)."""
        from gankit.report.page import try_write_report

        try_write_report(self.out, log)
