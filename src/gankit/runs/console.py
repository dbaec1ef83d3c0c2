"""What a run shows on the terminal: the progress bar, the opening lines (what trains on
what, the models' summaries) and the per-epoch line."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gankit.core.models import count_parameters, summary
from gankit.core.trainer import Trainer
from gankit.data import Dataset
from gankit.runtime import distributed
from gankit.stats import d_labels


def interactive() -> bool:
    """True when a progress bar is read as one: stdout and stderr are terminals, or a
    notebook draws tqdm's widget. Else (output into a file or a pipe, `make demo > log`) a
    run prints one plain line per epoch instead of a carriage-return bar."""
    if _in_notebook():
        return True
    return all(getattr(s, "isatty", lambda: False)() for s in (sys.stdout, sys.stderr))


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and type(get()).__name__ == "ZMQInteractiveShell"


def progress_bar(trainer: Trainer, total_epochs: int, alarms: str = "") -> Callable[..., Any]:
    """A tqdm bar for the coming epoch, fed by Trainer.train_epoch's progress callback;
    `alarms` (the last epoch's health alarms, gankit.runs.health) show in its description."""
    from tqdm.auto import tqdm

    n_iter = trainer.iterations_per_epoch()
    desc = f"epoch {trainer.epoch + 1}/{total_epochs}" + (f" [{alarms}!]" if alarms else "")
    bar = tqdm(total=n_iter, desc=desc, unit="it",
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


def plural(n: int, word: str) -> str:
    """'1 epoch', '2 epochs'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def banner(trainer: Trainer, data: Dataset, info: distributed.DistInfo | None,
            out: Path) -> str:
    """The line that opens a run: what trains on what, where."""
    cfg, t = trainer.cfg, trainer.cfg.train
    ranks = f" over {info.world_size} processes" if info is not None else ""
    extras = "".join([
        f", conditional on {trainer.n_classes} classes" if trainer.n_classes else "",
        f", EMA of G ({t.ema:g})" if t.ema else ""])
    return (f"training {cfg.model.name} G/D with the {cfg.loss.game} game{extras} on {data.name} "
            f"({len(data)} samples), batch {t.batch_size}{ranks}, "
            f"{trainer.iterations_per_epoch()} iterations/epoch, epochs {trainer.epoch + 1}.."
            f"{t.epochs}, on {trainer.device} ({trainer.precision}); run folder {out}")


def summaries(trainer: Trainer) -> str:
    """G's and D's layer tables and the stacked model's totals (Keras's `summary()`)."""
    g, d = trainer.g, trainer.d
    n_g, n_d = count_parameters(g), count_parameters(d)
    return "\n".join([
        summary(g, (trainer.cfg.model.z_dim,), "generator G"),
        summary(d, tuple(trainer.data.shape[1:]), "discriminator D"),
        f"GAN (z -> G -> D): {n_g + n_d:,} params; G's step trains G's {n_g:,} "
        f"(D frozen: {n_d:,})"])


def epoch_line(record: dict[str, Any], epochs: int, probabilistic: bool) -> str:
    """The log line of an epoch (when there is no progress bar: train.progress off, or output
    that is not a terminal)."""
    real, fake = d_labels(probabilistic)
    return (f"epoch {record['epoch']}/{epochs}: D loss {record['loss_d']:.3f}, G loss "
            f"{record['loss_g']:.3f}, {real} {record['d_real']:.2f}, {fake} "
            f"{record['d_fake']:.2f}, {record['images_per_s']:.0f} img/s")
