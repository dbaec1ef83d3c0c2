"""A training run: build, resume, then per epoch train, log and write (`train`).

The run folder's writing lives in gankit.runs.folder (RunFolder); the algorithm in
gankit.core.trainer. Under torchrun (gankit.runtime.distributed) every rank trains; only
rank 0 writes the run folder, logs, evaluates and shows progress. Every rank reads the
checkpoint when resuming.
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config
from gankit.core.trainer import Trainer, check_n_critic
from gankit.data import Dataset, load_dataset
from gankit.datasets import is_toy
from gankit.errors import (
    ConfigError,
    GankitError,
    Interrupted,
    TrainingStopped,
)
from gankit.runlock import LOCK_NAME, RunLock
from gankit.runs.console import (
    banner,
    epoch_line,
    interactive,
    plural,
    progress_bar,
    summaries,
)
from gankit.runs.folder import RunFolder, prepare_run_dir
from gankit.runs.guard import train_epoch_guarded
from gankit.runs.health import Alarm, HealthMonitor
from gankit.runs.resume import (
    RESUME_OVERRIDABLE,
    restore,
    resume_command,
    resumed_run,
    run_folder_of,
)
from gankit.runtime import cpu, distributed
from gankit.runtime.device import resolve_device

__all__ = ["RESUME_OVERRIDABLE", "default_run_dir", "prepare_run_dir", "train"]

def default_run_dir(cfg: Config) -> Path:
    """runs/<preset>-<game>-<YYYYmmdd-HHMMSS>."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{cfg.preset}-{cfg.loss.game}-{stamp}"


class _Evaluator:
    """`--eval-every`: gankit eval's metrics of the current G, with a context loaded once."""

    def __init__(self, cfg: Config, shape: tuple[int, ...], device: Any, log: Callable) -> None:
        if tuple(shape) != (1, 28, 28):
            raise ConfigError(f"--eval-every needs 28 x 28 grayscale digits; this data set's "
                              f"samples are {tuple(shape)}: drop --eval-every")
        from gankit.metrics.evaluate import load_context

        self.cfg, self.device, self.log = cfg, device, log
        self.ctx = load_context(str(device))

    def __call__(self, trainer: Trainer) -> dict[str, float]:
        import warnings

        from gankit.metrics.evaluate import evaluate_generator

        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # n < 10,000 is the user's choice
            m = evaluate_generator(trainer.sampler, self.cfg.model.z_dim, n=self.cfg.train.eval_n,
                                   device=self.device, seed=0, ctx=self.ctx)
        m = {k: float(v) for k, v in m.items()}
        self.log(f"epoch {trainer.epoch} eval (n={m['n']:.0f}, {time.perf_counter() - start:.0f}"
                 f" s): FID {m['fid']:.2f}, classifier score {m['classifier_score']:.2f}, "
                 f"{m['classes_covered']:.0f} classes")
        return {("eval_n" if k == "n" else k): v for k, v in m.items()}


def train(
    cfg: Config | None,
    out: Path | None = None,
    resume: bool = False,
    resume_overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Train a run to `cfg.train.epochs`; with `resume`, continue the run in `out`.

    When resuming, `cfg` is ignored (pass None): the config comes from the checkpoint,
    changed only by `resume_overrides` (and hand edits of config.yaml) among
    RESUME_OVERRIDABLE. The run folder is locked (gankit.runlock) while training.
    """
    with RunLock() as lock:
        return _train_locked(cfg, out, resume, resume_overrides, log, lock)


def _train_locked(
    cfg: Config | None, out: Path | None, resume: bool,
    resume_overrides: dict[str, Any] | None, log: Callable[[str], None], lock: RunLock,
) -> Path:
    """`train`, with `lock` to take on the run folder (rank 0 only)."""
    info = distributed.from_env()
    if info is not None and not info.is_main:
        log = _quiet
    run_id = None
    if resume:
        if out is None:
            raise GankitError("--resume needs the run folder: add --out RUN_DIR")
        folder = run_folder_of(out)
        if (info is None or info.is_main) and folder.is_dir():
            lock.acquire(folder)
        out, cfg, state, run_id = resumed_run(out, resume_overrides, log)
    else:
        if cfg is None:
            raise GankitError("a new run needs a config")
        state = None

    if cfg.train.tensorboard:
        from gankit.runs.tb import require_tensorboard

        require_tensorboard()
    device = distributed.device_for(info, resolve_device(cfg.train.device))
    with distributed.session(info, device):
        created = False
        if not resume:
            wanted = out or default_run_dir(cfg)
            created = not wanted.exists()
            out = distributed.on_main(info, lambda: prepare_run_dir(wanted, lock))
        assert out is not None
        try:
            return _train(cfg, out, state, device, info, log, run_id or uuid.uuid4().hex[:16])
        except KeyboardInterrupt:  # a second Ctrl-C: stopped at once, mid-epoch
            raise Interrupted(f"interrupted during an epoch; the run continues from its "
                              f"newest checkpoint with: {resume_command(out)}") from None
        except (Interrupted, TrainingStopped):
            raise
        except GankitError:
            # a start-up error (bad data, batch above the data size, ...): a folder this call
            # created and that holds nothing of a run yet is removed, not left behind
            if created and (info is None or info.is_main) and _nothing_written(out):
                shutil.rmtree(out, ignore_errors=True)
            raise


STARTUP_FILES = (LOCK_NAME, "config.yaml", "metrics.jsonl", ".write-test")
"""What a run folder may hold before its first epoch is written (removed on a start-up error)."""


def _nothing_written(out: Path) -> bool:
    """True when `out` holds no result of a run: only start-up files, empty folders and an
    empty metrics log."""
    for p in out.rglob("*"):
        if p.is_dir():
            continue
        if p.parent != out or p.name not in STARTUP_FILES:
            return False
        if p.name == "metrics.jsonl" and p.stat().st_size:
            return False
    return True


class _Interrupts:
    """While training: a first Ctrl-C (SIGINT) asks to stop after the current epoch (with its
    checkpoint); a second stops at once (KeyboardInterrupt). Only the main thread can take
    signals; elsewhere Ctrl-C keeps Python's default."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self.log, self.asked, self.previous = log, False, None

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.getsignal(signal.SIGINT)
            if self.previous is signal.SIG_IGN:  # started with SIGINT ignored (nohup ... &):
                self.previous = None               # it stays ignored, as the shell asked
            else:
                signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True
        self.log("\ninterrupt: finishing this epoch, then a checkpoint (Ctrl-C again to stop "
                 "at once)")

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _quiet(_: str) -> None:
    """The log of ranks other than 0."""


def _train(
    cfg: Config, out: Path, state: dict[str, Any] | None, device: torch.device,
    info: distributed.DistInfo | None, log: Callable[[str], None], run_id: str,
) -> Path:
    """The training loop of `train`, inside the process group when distributed."""
    main, t = info is None or info.is_main, cfg.train
    data = _load(cfg, device, info, log)
    trainer = Trainer(cfg, data.samples, device, info, labels=data.labels)
    check_n_critic(t.n_critic, trainer.iterations_per_epoch())
    folder = RunFolder(out, cfg, main, run_id)
    if state is not None:
        restore(trainer, state, len(data))
        if trainer.epoch >= t.epochs:
            log(f"run already has {trainer.epoch} epochs (target {t.epochs}); raise "
                "--epochs to train further")
            if main and not (out / "report.html").is_file():  # stopped before writing it
                folder.report(log)
            return out
    folder.open(trainer.epoch, {"device_used": str(trainer.device),
                                "precision_used": trainer.precision})
    log(banner(trainer, data, info, out))
    if main and trainer.epoch == 0:  # the models, as the notes' code prints them
        log(summaries(trainer))
        if folder.toy is not None:  # the untrained G: where its samples start from
            folder.samples(trainer, 0)
    if trainer.precision == "bf16" and trainer.device.type == "cpu" and not cpu.has_native_bf16():
        log(f"warning: --precision bf16 on a CPU without native bf16 ({cpu.cpu_summary()}): "
            f"PyTorch emulates it, {cpu.BF16_EMULATED_SLOWDOWN}x slower than fp32; "
            "use --precision fp32 (or auto, which picks fp32 on this CPU)")
    # --eval-every: its context (and its check of the data's shape) before the first epoch
    evaluator = _Evaluator(cfg, data.sample_shape, device, log) if t.eval_every and main \
        else None
    monitor = (HealthMonitor(cfg, trainer.data, trainer.game.probabilistic, folder.toy)
               if main and t.on_collapse != "off" else None)
    with _Interrupts(log) as interrupts:
        stop, interrupted, alarms = _epochs(trainer, folder, evaluator, monitor, info, log,
                                            interrupts)
    folder.close(log)
    if interrupted:
        raise Interrupted(
            f"interrupted: stopped after epoch {trainer.epoch} with its checkpoint in {out}; "
            f"continue with: {resume_command(out)}")
    if stop:
        seen = ", ".join(a.kind for a in alarms) or "an alarm on another process"
        raise TrainingStopped(
            f"stopped after epoch {trainer.epoch} ({seen}; train.on_collapse=stop); its "
            f"checkpoint and grid are in {out}; to train on anyway: "
            f"{resume_command(out)} --set train.on_collapse=warn")
    log(f"done: {plural(t.epochs, 'epoch')} in {trainer.elapsed:.1f} s of training; final grid "
        f"{out / 'samples' / f'epoch_{t.epochs:04d}.png'}")
    dead = next((a for a in alarms if a.kind == "dead"), None)
    if dead is not None:  # the last line a learner reads: not the next commands' to sample it
        log(f"the run ended dead ({dead.message.split(':')[0]}): D won and G will not "
            "recover; do not resume or sample it, start a new run (see the line above)")
    return out


def _epochs(trainer: Trainer, folder: RunFolder, evaluator: _Evaluator | None,
            monitor: HealthMonitor | None, info: distributed.DistInfo | None,
            log: Callable[[str], None], interrupts: _Interrupts,
            ) -> tuple[bool, bool, list[Alarm]]:
    """Train epoch after epoch to the target; (stopped by an alarm, stopped by Ctrl-C, the
    last epoch's alarms)."""
    t, main = trainer.cfg.train, info is None or info.is_main
    alarms: list[Alarm] = []
    stop = interrupted = False
    show_bar = t.progress and main and interactive()
    while trainer.epoch < t.epochs:
        flag = ", ".join(a.kind for a in alarms)
        bar = (lambda f=flag: progress_bar(trainer, t.epochs, f)) if show_bar else (
            lambda: None)
        record = train_epoch_guarded(trainer, t.nan_retries, bar, log)
        e = trainer.epoch
        # health (gankit.runs.health): D winning, mode collapse, a stalled G; a line each
        alarms = monitor.check(trainer.sampler, record) if monitor is not None else []
        for alarm in alarms:
            log(alarm.message)
        stop = t.on_collapse == "stop" and _any_rank(info, bool(alarms))
        interrupted = _any_rank(info, interrupts.asked) and e < t.epochs
        last = e == t.epochs or stop or interrupted
        # every rank: the state gathers the ranks' RNG states
        run_state = trainer.state_dict() if e % t.checkpoint_every == 0 or last else None
        if not main:
            if stop or interrupted:
                break
            continue
        record.update(folder.epoch_metrics(trainer))
        if t.eval_every and (e % t.eval_every == 0 or last):
            assert evaluator is not None
            record.update(evaluator(trainer))
        folder.log(record)
        if e == 1 or e % t.sample_every == 0 or last:
            folder.samples(trainer, e)
        if run_state is not None:
            folder.checkpoint(run_state, e, log)
        if not show_bar:
            log(epoch_line(record, t.epochs, trainer.game.probabilistic))
        if stop or interrupted:
            break
    return stop, interrupted, alarms


def _any_rank(info: distributed.DistInfo | None, flag: bool) -> bool:
    """True when `flag` is true on any process (every rank must call this together)."""
    if info is None:
        return flag
    return any(distributed.all_gather_objects(info, flag))


def _load(cfg: Config, device: torch.device, info: distributed.DistInfo | None,
          log: Callable[[str], None]) -> Dataset:
    """Threads for this run, then the data: rank 0 loads (and may download) first, then the
    others read the cached files."""
    if is_toy(cfg.data.dataset) and device.type == "cpu":
        # The toy MLPs are tiny: intra-op threads only add overhead (10x slower on 2 busy cores).
        torch.set_num_threads(1)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    loaded: dict[str, Any] = {}
    distributed.on_main(info, lambda: loaded.update(data=load_dataset(cfg.data, log=log)))
    return loaded["data"] if "data" in loaded else load_dataset(cfg.data, log=log)
