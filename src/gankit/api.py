"""gankit from Python: train, load, sample, evaluate and plot in a few lines.

The public API that `import gankit` exposes (lazily: `import gankit` itself loads neither
torch nor numpy). Every function returns an object a notebook shows: a `Run` and `Samples`
display as their sample grid, `evaluate` returns a dict that displays as a table, and
figures are PIL images.

    import gankit
    run = gankit.train("smoke", epochs=2, seed=1, out="runs/try")   # -> Run
    run.metrics[-1]["loss_d"]; run.grid()                           # last epoch, its grid
    g = gankit.load(run.path)                                       # -> Generator
    g.sample(64, seed=0)                                            # -> Samples (a grid)
    gankit.evaluate(g, n=10_000)                                    # -> dict of metrics

Overrides (`train`, `compare`, `make_config`) name config keys three ways: a dotted key in a
dict or `**{"train.lr_d": 1e-4}`, a double underscore (`train__lr_d=1e-4`), or a bare field
name when one section has it (`epochs=2`, `lr_d=1e-4`, `dataset="grid2d"`); besides, `loss`
and `game` mean `loss.game`, `data` means `data.dataset` and `model` means `model.name`.
`gankit config keys` lists every key. Latents are drawn as the CLI draws them, so
`g.sample(100, seed=0)` is the grid of `gankit sample --n 100 --seed 0`.
"""

from __future__ import annotations

import html
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from gankit.config import PRESET_HELP, SECTIONS, Config, build_config, read_config_file
from gankit.errors import (
    SEED_MAX,
    CheckpointError,
    ConfigError,
    GankitError,
    check_range,
    short,
)
from gankit.results import (
    Comparison,
    Evaluation,
    Generator,
    Samples,
    img_tag,
    open_image,
)

__all__ = [
    "Comparison", "Evaluation", "Generator", "Run", "Samples", "compare", "evaluate",
    "games_plot", "load", "make_config", "presets", "toy_data", "toy_distribution",
    "toy_datasets", "train",
]

ALIASES = {"loss": "loss.game", "game": "loss.game", "data": "data.dataset",
           "dataset": "data.dataset", "model": "model.name"}
"""Short keyword names that are not a field's own name, and the config keys they set."""


# ---------------------------------------------------------------------------------- config

def config_key(name: str) -> str:
    """The dotted config key a keyword names: `train.epochs`, `train__epochs` or `epochs`."""
    if "." in name:
        return name
    if "__" in name:
        return name.replace("__", ".", 1)
    if name in ALIASES:
        return ALIASES[name]
    owners = [s for s in SECTIONS if name in {f.name for f in fields(getattr(Config(), s))}]
    if len(owners) == 1:
        return f"{owners[0]}.{name}"
    if len(owners) > 1:
        raise ConfigError(f"keyword {name!r} is a key of several sections "
                          f"({', '.join(owners)}); write it as SECTION__{name}")
    raise ConfigError(f"unknown config keyword {short(name, 60)}; use a key from `gankit config "
                      "keys` (e.g. epochs=2, lr_d=1e-4 or **{'train.lr_d': 1e-4})")


def resolve_overrides(overrides: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Keyword overrides (see the module doc) as dotted config keys; later ones win."""
    out: dict[str, Any] = {}
    for name, value in {**(overrides or {}), **kwargs}.items():
        out[config_key(str(name))] = value
    return out


def make_config(preset: str | None = None, config: str | Path | None = None,
                overrides: dict[str, Any] | None = None, **kwargs: Any) -> Config:
    """The validated config of a preset (default `default`), a YAML/JSON file and overrides.

    Exactly what `gankit train --preset P --config FILE --set ...` would train.
    """
    return build_config(preset, config, resolve_overrides(overrides, **kwargs))


def presets() -> dict[str, str]:
    """Preset names and a line on each (`gankit train --help` lists the same)."""
    return dict(PRESET_HELP)


def check_log(log: Any) -> None:
    """GankitError unless `log` can take the progress lines (a function of one string)."""
    if not callable(log):
        raise GankitError(f"log={short(log, 40)} is not a function; pass a function taking one "
                          "line of text, e.g. log=print (or log=lambda line: None for silence)")


# ---------------------------------------------------------------------------- pictures

def load(path: str | Path, device: str = "auto") -> Generator:
    """The generator of a run folder (its newest valid checkpoint) or of a checkpoint file.

    `device`: `auto` (CUDA when present, else CPU), `cpu`, `cuda`, `cuda:N`.
    """
    from gankit.runs.checkpoint import load_generator
    from gankit.runtime.device import resolve_device

    dev = resolve_device(device)
    module, cfg = load_generator(Path(path), dev)
    return Generator(module, cfg, dev, str(path))


# --------------------------------------------------------------------------------- runs

class Run:
    """A run folder: its config, metrics, sample grids, checkpoints and report.

    Shows as its newest sample grid in a notebook. `Run(path)` opens any run folder;
    `gankit.train` returns one.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not (self.path / "config.yaml").is_file():
            raise GankitError(f"{str(self.path)!r} is not a run folder (no config.yaml); give "
                              "the --out folder of a `gankit train`")

    @property
    def config(self) -> Config:
        """The run's config (its config.yaml)."""
        return Config.from_dict(read_config_file(self.path / "config.yaml"))

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """One dict per epoch from metrics.jsonl (losses, D(x), D(G(z)), timing, ...)."""
        from gankit.log import read_metrics

        path = self.path / "metrics.jsonl"
        return read_metrics(path) if path.is_file() else []

    @property
    def grids(self) -> list[Path]:
        """The sample grids (toy sets: snapshots) in epoch order."""
        return sorted((self.path / "samples").glob("epoch_*.png"))

    @property
    def checkpoints(self) -> list[Path]:
        """The checkpoint files, oldest first."""
        from gankit.runs.checkpoint import list_checkpoints

        return list_checkpoints(self.path)

    @property
    def report_path(self) -> Path:
        """RUN/report.html (written at the end of training; `gankit report` rewrites it)."""
        return self.path / "report.html"

    def grid(self, epoch: int | None = None) -> Any:
        """The sample grid written after `epoch` (default: the newest) as a PIL image."""
        grids = self.grids
        if not grids:
            raise GankitError(f"run {str(self.path)!r} has no sample grid yet; train it first")
        if epoch is None:
            return open_image(grids[-1])
        check_range("epoch", epoch, 0, 10**9, "an epoch the run has a grid of")
        wanted = self.path / "samples" / f"epoch_{epoch:04d}.png"
        if not wanted.is_file():
            have = ", ".join(str(int(p.stem.split("_")[1])) for p in grids)
            raise GankitError(f"run {str(self.path)!r} has no grid of epoch {epoch}; it has "
                              f"epochs {have} (train.sample_every sets which)")
        return open_image(wanted)

    def generator(self, device: str = "auto") -> Generator:
        """The run's generator, from its newest valid checkpoint (`gankit.load`)."""
        return load(self.path, device)

    def __repr__(self) -> str:
        cfg, last = self.config, (self.metrics or [{}])[-1]
        return (f"Run({str(self.path)!r}: preset {cfg.preset}, {cfg.loss.game} game on "
                f"{cfg.data.dataset}, {last.get('epoch', 0)}/{cfg.train.epochs} epochs)")

    def _repr_png_(self) -> bytes | None:
        grids = self.grids
        return grids[-1].read_bytes() if grids else None

    def _repr_html_(self) -> str:
        grids = self.grids
        pic = img_tag(grids[-1].read_bytes(), grids[-1].name) if grids else ""
        return f"<div><p><code>{html.escape(repr(self))}</code></p>{pic}</div>"


def train(preset: str | None = None, out: str | Path | None = None, *,
          config: str | Path | None = None, overrides: dict[str, Any] | None = None,
          resume: bool = False, log: Callable[[str], None] = print, **kwargs: Any) -> Run:
    """Train a run and return it; `gankit train` in one call.

    `preset`: `default` when None (or the `preset:` of the `config` file); `out`: the run
    folder (default runs/<preset>-<game>-<time>); `config`: a YAML/JSON file; overrides as
    keywords (`epochs=2`, `train__lr_d=1e-4`, `**{"train.lr_d": 1e-4}`) or a dict. With
    `resume=True`, continue the run in `out` from its newest checkpoint; keywords may then
    change only what a resume may (epochs, device, cadences, ...). Ctrl-C (a notebook's
    interrupt) finishes the current epoch, writes a checkpoint and raises.
    """
    from gankit.runs.loop import train as run_training

    check_log(log)  # before a run folder exists: a bad argument leaves nothing behind
    extra = resolve_overrides(overrides, **kwargs)
    if resume:
        if out is None:
            raise GankitError("resume=True needs the run folder: pass out=RUN_DIR")
        if preset is not None or config is not None:
            raise ConfigError("resume=True takes the config from the checkpoint; drop preset "
                              "and config (keywords like epochs= may extend the run)")
        return Run(run_training(None, Path(out), resume=True, resume_overrides=extra, log=log))
    cfg = build_config(preset, config, extra)
    return Run(run_training(cfg, Path(out) if out is not None else None, log=log))


# --------------------------------------------------------------------------- evaluation

def evaluate(source: Any, n: int = 10_000, seed: int = 0, device: str = "auto",
             batch_size: int = 500, value_range: str | None = None,
             extractor: str | None = None, data_dir: str | None = None,
             cache_dir: str | None = None) -> Evaluation:
    """FID, KID, classifier score, modes, precision/recall, ... against the MNIST test set.

    `source`: a Generator or Run (n samples from seeded latents; a conditional G asks for
    the classes in turn and gets a per-class accuracy), Samples, a tensor or array of
    28 x 28 images (range detected, or `value_range` byte / unit / signed), or a path: a run
    folder or .pt checkpoint (its generator), else a .npy / .npz file or a PNG folder.
    Use n = 10,000 for a reported figure (fewer warns).
    """
    import warnings

    from gankit.metrics import evaluate as ev
    from gankit.metrics.images import MAX_IMAGES
    from gankit.runtime.device import resolve_device

    check_range("n", n, 6, MAX_IMAGES, "10000 is the reported figure")  # as `gankit eval`
    check_range("seed", seed, 0, SEED_MAX)
    check_range("batch_size", batch_size, 1, MAX_IMAGES)
    dev = str(resolve_device(device))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, asked, name = _eval_images(source, n, seed, dev, batch_size, value_range)
        ctx = ev.load_context(dev, extractor, data_dir, cache_dir)
        scored = ev.score(images, ctx, seed=seed, batch_size=batch_size, asked=asked,
                          data_dir=data_dir, cache_dir=cache_dir)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return Evaluation(scored.metrics, scored.histogram, scored.floor["metrics"], name, notes,
                      scored.conditional)


def _eval_images(source: Any, n: int, seed: int, device: str, batch_size: int,
                 value_range: str | None) -> tuple[Any, Any, str]:
    """(images (N, 1, 28, 28) in [-1, 1], asked labels or None, a name) of an eval source."""
    import numpy as np
    import torch

    from gankit.metrics.images import load_images, to_signed_images

    if isinstance(source, (str, Path)):
        p = Path(source)
        if p.is_dir() and (p / "config.yaml").is_file() or p.suffix == ".pt":
            source = load(p, device)
        else:
            return load_images(p, value_range), None, str(p)
    if isinstance(source, Run):
        source = source.generator(device)
    if isinstance(source, Generator):
        if source.config.model.name == "toy-mlp":
            raise GankitError(f"{source!r} draws toy points; evaluate scores MNIST digits "
                              "(toy runs log modes_covered, hq_share in their metrics)")
        z = source.latents(n, seed)
        asked = torch.arange(n) % source.n_classes if source.n_classes else None
        from gankit.core.models import generate

        images = generate(source.module, z.to(source.device), asked,
                          batch=batch_size).float().clamp(-1, 1).cpu()
        if tuple(images.shape[1:]) != (1, 28, 28):
            raise CheckpointError(f"{source.source} generates samples of shape "
                                  f"{tuple(images.shape[1:])}, not 28x28 grayscale digits")
        return images, asked, source.source or "generator"
    if isinstance(source, Samples):
        source = source.tensor
    if isinstance(source, torch.Tensor):
        source = source.detach().cpu().numpy()
    if isinstance(source, np.ndarray):
        return to_signed_images(source, value_range, "images"), None, f"array {source.shape}"
    raise GankitError(f"evaluate cannot score a {type(source).__name__}; give a Generator, "
                      "Run, Samples, an image array or a path")


# ------------------------------------------------------------------- games, toys, compare

def games_plot(out: str | Path | None = None) -> Any:
    """The review's figure of the three generator games (J(G) and |dJ/dl| against D(G(z))).

    Returns it as a PIL image; with `out` it is also written there (.png or .svg; for .svg
    nothing is returned).
    """
    from gankit.viz.plots import plot_games

    if out is not None:
        path = plot_games(out)
        return open_image(path) if path.suffix.lower() == ".png" else None
    with tempfile.TemporaryDirectory() as tmp:
        return open_image(plot_games(Path(tmp) / "games.png"))


def toy_datasets() -> list[str]:
    """Names of the toy data sets (gaussian1d, ring2d, grid2d)."""
    from gankit.datasets import names

    return names("toy")


def toy_distribution(name: str) -> Any:
    """The toy distribution `name` (a Gaussian mixture that knows its modes and density)."""
    from gankit.data.toy import get_toy

    return get_toy(name)


def toy_data(name: str, n: int = 10_000, seed: int = 0) -> Samples:
    """n samples of a toy distribution (a toy run trains on n = 10,000 drawn with seed 0)."""
    from gankit.data.toy import make_toy
    from gankit.validation import MAX_TOY_SAMPLES

    check_range("n", n, 1, MAX_TOY_SAMPLES, "a toy run trains on 10,000")
    check_range("seed", seed, 0, SEED_MAX)
    return Samples(make_toy(name, n, seed))


def compare(data: str = "ring2d", games: Sequence[str] | str | None = None, seeds: int = 3,
            epochs: int | None = None, out: str | Path | None = None,
            preset: str | None = None, overrides: dict[str, Any] | None = None,
            log: Callable[[str], None] = print, batched: bool = True,
            **kwargs: Any) -> Comparison:
    """Train each game with seeds 0..seeds-1 on `data` under one budget; `gankit compare`.

    `games`: names or a comma-separated string (default the three generator games);
    `preset`: `toy-ring` for ring2d, `toy-grid` for grid2d, `toy` for gaussian1d, else
    `default`; overrides as in `train`, for every run. `batched`: on a toy set, train each
    game's seeds at once as one model (False: one run at a time, `--serial`).
    """
    import time

    from gankit.runs.compare import compare as run_compare

    check_log(log)

    target = Path(out) if out is not None else (
        Path("runs") / f"compare-{data}-{time.strftime('%Y%m%d-%H%M%S')}")
    result = run_compare(data, target, games=games, seeds=seeds, epochs=epochs, preset=preset,
                         overrides=resolve_overrides(overrides, **kwargs), log=log,
                         batched=batched)
    return Comparison(result)
