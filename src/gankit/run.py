"""A training run on disk: the run folder, its config, grids, checkpoints and metrics log.

Layout of a run folder:
  config.yaml            the full config, readable
  metrics.jsonl          one record per epoch (losses, D(x), D(G(z)), diagnostics, timing;
                         toy sets add modes_covered, hq_share, js_hist: gankit.toy_run)
  samples/epoch_0001.png 10 x 10 grids from the fixed latents (epoch 1, every
                         `sample_every` epochs, and the last epoch); for toy sets a
                         snapshot instead: samples and D(x) (gankit.toy_run)
  checkpoints/epoch_NNNN.pt  whole-run states (the newest `keep_checkpoints`)
  .gankit.lock           who trains the folder now (gankit.runlock); one process at a time

config.yaml ends with the run's `run_id`, which every checkpoint of the run also holds: a
checkpoint of another run copied into the folder is never resumed from nor counted when
pruning. On --resume, hand edits of config.yaml are compared with the checkpoint's config:
edits of RESUME_OVERRIDABLE keys are applied, any other edit is refused, naming the keys.

Under torchrun (gankit.distributed) every rank trains; only rank 0 writes the run folder,
logs, evaluates and shows progress. Every rank reads the checkpoint when resuming.
"""

from __future__ import annotations

import errno
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from gankit import checkpoint as ckpt
from gankit import distributed
from gankit.config import (
    Config,
    apply_overrides,
    config_changes,
    config_value,
    dump_yaml,
    read_config_file,
    validate,
)
from gankit.data import load_dataset
from gankit.data.toy import get_toy, is_toy
from gankit.errors import CheckpointError, ConfigError, GankitError
from gankit.fileio import write_text_atomic
from gankit.guard import train_epoch_guarded
from gankit.images import save_grid
from gankit.log import JsonlLogger
from gankit.runlock import LOCK_NAME, RunLock
from gankit.toy_run import eval_latents, save_toy_snapshot, toy_epoch_metrics
from gankit.trainer import Trainer, check_state, resolve_device

RESUME_OVERRIDABLE = ("data.data_dir", "train.epochs", "train.eval_every", "train.eval_n",
                      "train.sample_every", "train.checkpoint_every", "train.keep_checkpoints",
                      "train.progress", "train.device", "train.tensorboard", "train.nan_retries",
                      "train.threads", "train.cuda_graphs")
"""Config keys a resumed run may change; anything else would break exact resume.

`data.data_dir` may point elsewhere (the data moved): the checkpoint's fingerprint of the
training data must still match (Trainer.load_state_dict)."""


def default_run_dir(cfg: Config) -> Path:
    """runs/<preset>-<game>-<YYYYmmdd-HHMMSS>."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{cfg.preset}-{cfg.loss.game}-{stamp}"


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
def _writing(out: Path, target: Path) -> Iterator[None]:
    """Turn an OSError while writing `target` into a one-line GankitError naming the folder."""
    try:
        yield
    except OSError as err:
        code = errno.errorcode.get(err.errno or 0, "")
        reason = f"{err.strerror or err}" + (f" [{code}]" if code else "")
        raise GankitError(
            f"cannot write {target.name} in run folder {str(out)!r}: {reason}; the newest "
            f"checkpoint in it is intact: free space or fix the folder, then continue with "
            f"gankit train --resume --out {out}"
        ) from None


def _resume_state(out: Path, log: Callable[[str], None]) -> tuple[Path, dict[str, Any] | None]:
    """(run folder, newest loadable state) for --resume; state None = restart from config.yaml.

    A newest checkpoint that is corrupt, truncated, renamed or from another run is skipped
    with a warning naming it; a run killed before its first checkpoint is started over from
    its config.yaml.
    """
    if not out.is_dir():
        path = ckpt.resolve_checkpoint(out)
        state = ckpt.load_valid(path, _run_id_of(path.parent.parent))
        check_state(state)
        log(f"resuming from {path} (epoch {state['epoch']})")
        return path.parent.parent, state
    with _writing(out, out / ckpt.CHECKPOINT_DIR):
        stale = ckpt.remove_stale_temps(out)
    for p in stale:
        log(f"removed {p.name}, left by a checkpoint write that was interrupted")
    if not ckpt.list_checkpoints(out) and (out / "config.yaml").is_file():
        log(f"{out} has no checkpoint yet (stopped during its first epochs); starting it "
            "over from its config.yaml")
        return out, None
    path, state = ckpt.latest_valid(out, warn=log, run_id=_run_id_of(out))
    check_state(state)
    log(f"resuming {out} from {path.name} (epoch {state['epoch']})")
    return out, state


def _run_id_of(run_dir: Path) -> str | None:
    """The run id in a run folder's config.yaml, or None (none kept, or no readable file)."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return None
    try:
        found = read_config_file(path).get("run_id")
    except GankitError:
        return None
    return found if isinstance(found, str) else None


def _hand_edits(out: Path, cfg: Config, log: Callable[[str], None]) -> dict[str, Any]:
    """Edits of the run's config.yaml against the checkpoint's config, as overrides.

    Edits of RESUME_OVERRIDABLE keys are returned (to apply); any other edit is refused
    with one line naming the keys, since config.yaml would otherwise be silently ignored
    and then overwritten.
    """
    path = out / "config.yaml"
    if not path.is_file():
        return {}
    try:
        edited = Config.from_dict(read_config_file(path))
    except GankitError as err:
        raise ConfigError(f"{path} cannot be read back ({err}); restore it, or delete it to "
                          "resume with the checkpoint's config") from None
    changed = config_changes(cfg, edited)
    refused = sorted(k for k in changed if k not in RESUME_OVERRIDABLE)
    if refused:
        raise ConfigError(
            f"{path} was edited since the checkpoint: {', '.join(refused)} changed, which a "
            f"resumed run cannot change (exact resume); undo those edits (only "
            f"{', '.join(RESUME_OVERRIDABLE)} may change), or start a new run with "
            f"--config {path} --out NEW_DIR")
    for key, value in changed.items():
        log(f"config.yaml edit applied: {key} {config_value(cfg, key)!r} -> {value!r}")
    return changed


def _progress_bar(trainer: Trainer, total_epochs: int) -> Callable[..., Any]:
    """A tqdm bar for the coming epoch, fed by Trainer.train_epoch's progress callback."""
    from tqdm.auto import tqdm

    n_iter = trainer.iterations_per_epoch()
    bar = tqdm(total=n_iter, desc=f"epoch {trainer.epoch + 1}/{total_epochs}", unit="it",
               dynamic_ncols=True, leave=True)
    start = time.perf_counter()
    b = trainer.cfg.train.batch_size

    def update(done: int, means: dict[str, float] | None) -> None:
        bar.update(done - bar.n)
        if means is not None:
            rate = done * b / max(time.perf_counter() - start, 1e-9)
            real, fake = d_labels(trainer.game.probabilistic)
            bar.set_postfix({"D loss": f"{means['loss_d']:.3f}", "G loss": f"{means['loss_g']:.3f}",
                             real: f"{means['d_real']:.2f}", fake: f"{means['d_fake']:.2f}",
                             "img/s": f"{rate:.0f}"}, refresh=False)
        if done == n_iter:
            bar.close()

    return update


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
        folder = out if out.is_dir() else out.parent.parent
        if (info is None or info.is_main) and folder.is_dir():
            lock.acquire(folder)
        out, state = _resume_state(out, log)
        if state is None:
            cfg = Config.from_dict(read_config_file(out / "config.yaml"))
        else:
            cfg = Config.from_dict(state["config"])
        run_id = (state or {}).get("run_id") or _run_id_of(out)
        extra = {**_hand_edits(out, cfg, log), **(resume_overrides or {})}
        # a flag that repeats the run's own value changes nothing and is accepted
        wanted_cfg = apply_overrides(Config.from_dict(cfg.to_dict()), extra)
        bad = sorted(k for k in extra if k not in RESUME_OVERRIDABLE
                     and config_value(wanted_cfg, k) != config_value(cfg, k))
        if bad:
            raise ConfigError(f"cannot change {', '.join(bad)} when resuming (exact resume "
                              f"needs the same run); only {', '.join(RESUME_OVERRIDABLE)} may "
                              "change")
        validate(apply_overrides(cfg, extra))
    else:
        if cfg is None:
            raise GankitError("a new run needs a config")
        state = None

    if cfg.train.tensorboard:
        from gankit.tb import require_tensorboard

        require_tensorboard()
    device = distributed.device_for(info, resolve_device(cfg.train.device))
    with distributed.session(info, device):
        if not resume:
            wanted = out or default_run_dir(cfg)
            out = distributed.on_main(info, lambda: prepare_run_dir(wanted, lock))
        return _train(cfg, out, state, device, info, log, run_id or uuid.uuid4().hex[:16])


def d_labels(probabilistic: bool) -> tuple[str, str]:
    """Names of the logged D outputs: probabilities D(x), D(G(z)) or mean scores."""
    return ("D(x)", "D(G(z))") if probabilistic else ("D score(x)", "D score(G(z))")


def _quiet(_: str) -> None:
    """The log of ranks other than 0."""


def _train(
    cfg: Config, out: Path, state: dict[str, Any] | None, device: torch.device,
    info: distributed.DistInfo | None, log: Callable[[str], None], run_id: str,
) -> Path:
    """The training loop of `train`, inside the process group when distributed."""
    main = info is None or info.is_main
    if is_toy(cfg.data.dataset) and device.type == "cpu":
        # The toy MLPs are tiny: intra-op threads only add overhead (10x slower on 2 busy cores).
        torch.set_num_threads(1)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    # Rank 0 loads (and may download) first; then the others read the cached files.
    loaded: dict[str, Any] = {}
    distributed.on_main(info, lambda: loaded.update(data=load_dataset(cfg.data, log=log)))
    data = loaded["data"] if "data" in loaded else load_dataset(cfg.data, log=log)
    trainer = Trainer(cfg, data.samples, device, info, labels=data.labels)
    if cfg.train.n_critic > trainer.iterations_per_epoch():
        raise ConfigError(
            f"train.n_critic={cfg.train.n_critic} is more than the "
            f"{trainer.iterations_per_epoch()} iterations of an epoch, so G would never step; "
            f"use --n-critic {min(5, trainer.iterations_per_epoch())} or a smaller --batch-size")
    if state is not None:
        saved = state.get("data_sha256")  # absent in checkpoints of gankit before it
        if saved is not None and saved != trainer.data_fingerprint():
            raise CheckpointError(
                f"the training data here ({len(data)} samples, sha256 "
                f"{trainer.data_fingerprint()[:12]}) are not the data the run was trained on "
                f"(sha256 {saved[:12]}); point --data-dir at the run's data, or train a new "
                "run with another --out")
        trainer.load_state_dict(state)
        if trainer.epoch >= cfg.train.epochs:
            log(f"run already has {trainer.epoch} epochs (target {cfg.train.epochs}); raise "
                "--epochs to train further")
            if main and not (out / "report.html").is_file():  # stopped before writing it
                from gankit.report import try_write_report

                try_write_report(out, log)
            return out

    metrics = JsonlLogger(out / "metrics.jsonl")
    if main:
        with _writing(out, out / "config.yaml"):
            write_text_atomic(out / "config.yaml", dump_yaml(cfg) + f"run_id: {run_id}\n")
        with _writing(out, metrics.path):
            metrics.truncate_after(trainer.epoch)
    tb = None
    if cfg.train.tensorboard and main:
        from gankit.tb import TensorBoardLogger

        with _writing(out, out / "tensorboard"):
            tb = TensorBoardLogger(out / "tensorboard")
    t = cfg.train
    ranks = f" over {info.world_size} processes" if info is not None else ""
    log(f"training {cfg.model.name} G/D with the {cfg.loss.game} game on {data.name} "
        f"({len(data)} samples), batch {t.batch_size}{ranks}, "
        f"{trainer.iterations_per_epoch()} iterations/epoch, epochs {trainer.epoch + 1}.."
        f"{t.epochs}, on {device} ({trainer.precision}); run folder {out}")
    toy = get_toy(cfg.data.dataset) if is_toy(cfg.data.dataset) else None
    toy_z = eval_latents(cfg.model.z_dim) if toy is not None else None
    # --eval-every: its context (and its check of the data's shape) before the first epoch
    evaluator = _Evaluator(cfg, data.sample_shape, device, log) if t.eval_every and main \
        else None
    while trainer.epoch < t.epochs:
        record = train_epoch_guarded(
            trainer, t.nan_retries,
            (lambda: _progress_bar(trainer, t.epochs)) if t.progress and main
            else (lambda: None), log)
        e = trainer.epoch
        last = e == t.epochs
        if e % t.checkpoint_every == 0 or last:
            whole = trainer.state_dict()  # every rank: it gathers the ranks' RNG states
            whole["run_id"] = run_id
        if not main:
            continue
        if toy is not None:
            record.update(toy_epoch_metrics(trainer.g, toy, toy_z))
        if t.eval_every and (trainer.epoch % t.eval_every == 0 or trainer.epoch == t.epochs):
            assert evaluator is not None
            record.update(evaluator(trainer))
        with _writing(out, metrics.path):
            metrics.log(record)
        if tb is not None:
            with _writing(out, out / "tensorboard"):
                tb.log(record)
        if e == 1 or e % t.sample_every == 0 or last:
            picture = out / "samples" / f"epoch_{e:04d}.png"
            if toy is None:
                grid = trainer.sample()
                save_grid(grid, picture, nrow=10)
                if tb is not None:
                    with _writing(out, out / "tensorboard"):
                        tb.log_images("samples", grid, e)
            else:
                with _writing(out, picture):
                    save_toy_snapshot(trainer.g, trainer.d, toy, toy_z, picture,
                                      title=f"{toy.name}, {cfg.loss.game} game, epoch {e}")
        if e % t.checkpoint_every == 0 or last:
            target = out / ckpt.CHECKPOINT_DIR / ckpt.checkpoint_name(e)
            with _writing(out, target):
                ckpt.save_atomic(whole, target)
                ckpt.prune(out, t.keep_checkpoints, run_id)
        if not t.progress:
            real, fake = d_labels(trainer.game.probabilistic)
            log(f"epoch {e}/{t.epochs}: D loss {record['loss_d']:.3f}, G loss "
                f"{record['loss_g']:.3f}, {real} {record['d_real']:.2f}, {fake} "
                f"{record['d_fake']:.2f}, {record['images_per_s']:.0f} img/s")
    log(f"done: {t.epochs} epochs in {trainer.elapsed:.1f} s of training; final grid "
        f"{out / 'samples' / f'epoch_{t.epochs:04d}.png'}")
    if tb is not None:
        tb.close()
    if main:
        from gankit.report import try_write_report

        try_write_report(out, log)
    return out

