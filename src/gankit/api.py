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

import base64
import html
import io
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from gankit.config import PRESET_HELP, SECTIONS, Config, build_config, read_config_file
from gankit.errors import CheckpointError, ConfigError, GankitError, short

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


# ---------------------------------------------------------------------------- pictures

def _png_bytes(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _img_tag(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
            'style="image-rendering: pixelated">')


def _open_image(path: Path) -> Any:
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        return img.copy()


class Samples:
    """Samples of a generator: images (N, C, H, W) in [-1, 1] or toy points (N, D).

    Shows as a grid (images) or a scatter plot / histogram (points) in a notebook;
    `numpy()` gives uint8 images (N, H, W) like `gankit sample --out x.npy`, `save(path)`
    writes a .png grid or .npy array, `image()` returns the grid as a PIL image.
    """

    def __init__(self, tensor: Any, nrow: int | None = None,
                 row_labels: Sequence[str] | None = None) -> None:
        self.tensor = tensor.detach().cpu()
        self.nrow = nrow
        self.row_labels = list(row_labels) if row_labels is not None else None

    @property
    def is_points(self) -> bool:
        """True for toy samples (N, D): points, not images."""
        return self.tensor.ndim == 2

    def __len__(self) -> int:
        return int(self.tensor.shape[0])

    def __repr__(self) -> str:
        kind = "points" if self.is_points else "images"
        return f"Samples({len(self)} {kind} of shape {tuple(self.tensor.shape[1:])})"

    def numpy(self) -> Any:
        """Images as uint8 (N, H, W) (or (N, H, W, C)); points as float32 (N, D)."""
        if self.is_points:
            return self.tensor.float().numpy()
        from gankit.viz.images import to_uint8

        arr = to_uint8(self.tensor)
        return arr[..., 0] if arr.shape[-1] == 1 else arr

    def image(self, nrow: int | None = None, scale: int = 2) -> Any:
        """The samples as one PIL image: a labelled grid (images) or a plot (points)."""
        from PIL import Image

        if self.is_points:
            with tempfile.TemporaryDirectory() as tmp:
                from gankit.viz.plots import plot_points

                return _open_image(plot_points(Path(tmp) / "points.png",
                                               self.tensor.float().numpy()))
        from gankit.viz.images import make_grid

        img = Image.fromarray(make_grid(self.tensor, nrow or self.nrow))
        if scale > 1:
            img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        return label_rows(img, self.row_labels) if self.row_labels else img

    def save(self, path: str | Path) -> Path:
        """Write a .png grid (points: a plot) or a .npy array; returns the path."""
        from gankit.viz.images import save_samples

        if self.row_labels and Path(path).suffix.lower() == ".png":
            from gankit.fileio import write_atomic

            img = self.image()
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(Path(path), lambda tmp: img.save(tmp, format="PNG"))
            return Path(path)
        return save_samples(self.tensor, path, nrow=self.nrow)

    def _repr_png_(self) -> bytes:
        return _png_bytes(self.image())


def label_rows(img: Any, labels: Sequence[str], width: int = 24) -> Any:
    """`img` (a grid of len(labels) equal rows) with each row's label in a margin on its left."""
    from PIL import Image, ImageDraw

    mode = img.mode if img.mode in ("L", "RGB") else "RGB"
    out = Image.new(mode, (img.width + width, img.height), 255 if mode == "L" else (255,) * 3)
    out.paste(img.convert(mode), (width, 0))
    draw = ImageDraw.Draw(out)
    row_h = img.height / max(len(labels), 1)
    for i, text in enumerate(labels):
        draw.text((4, int(row_h * i + row_h / 2 - 5)), str(text), fill=0 if mode == "L"
                  else (0, 0, 0))
    return out


# --------------------------------------------------------------------------- generator

class Generator:
    """A trained generator (the EMA weights when the run kept an EMA), ready to sample.

    `sample`, `per_class` and `interpolate` draw their latents z ~ N(0, I) on the CPU from
    `torch.Generator().manual_seed(seed)`, as `gankit sample` does, so a seed gives the same
    pictures on every device. `gankit.load(path)` makes one.
    """

    def __init__(self, module: Any, config: Config, device: Any = "cpu",
                 source: str = "") -> None:
        self.module, self.config, self.device, self.source = module, config, device, source

    @property
    def z_dim(self) -> int:
        """Size of the latent vector z."""
        return int(self.config.model.z_dim)

    @property
    def n_classes(self) -> int:
        """Number of classes a conditional G takes (0: unconditional)."""
        return int(getattr(self.module, "n_classes", 0))

    def __repr__(self) -> str:
        kind = f"conditional on {self.n_classes} classes" if self.n_classes else "unconditional"
        return (f"Generator({self.config.model.name}, z_dim {self.z_dim}, {kind}, trained on "
                f"{self.config.data.dataset}; from {self.source or '?'})")

    def latents(self, n: int, seed: int = 0) -> Any:
        """n latents (n, z_dim): the first n draws of N(0, I) seeded with `seed`, on the CPU."""
        import torch

        from gankit.errors import SEED_MAX, check_range

        check_range("seed", seed, 0, SEED_MAX)
        check_range("n", n, 1, 100_000, "draw in several calls with other seeds")
        return torch.randn(n, self.z_dim, generator=torch.Generator().manual_seed(seed))

    def __call__(self, z: Any, labels: Any = None) -> Any:
        """G(z) (and the class labels of a conditional G) in eval mode, on z's device."""
        from gankit.models import generate

        return generate(self.module, z.to(self.device), labels)

    def sample(self, n: int = 100, seed: int = 0, digit: int | None = None,
               nrow: int | None = None) -> Samples:
        """n samples from the seeded latents; a conditional G draws class `digit` (or the
        classes 0, 1, ... in turn when `digit` is None)."""
        import torch

        labels = None
        if digit is not None:
            if not self.n_classes:
                raise GankitError("this generator is not conditional: drop digit= (train with "
                                  "conditional=True to get one)")
            if not 0 <= digit < self.n_classes:
                raise GankitError(f"digit={digit} is out of range; this generator knows "
                                  f"classes 0..{self.n_classes - 1}")
            labels = torch.full((n,), digit, dtype=torch.long)
        elif self.n_classes:
            labels = torch.arange(n) % self.n_classes
        return Samples(self(self.latents(n, seed), labels), nrow)

    def per_class(self, n: int = 10, seed: int = 0) -> Samples:
        """A conditional G's grid: one labelled row per class, n columns; column j uses one
        latent in every row, so a column shows one 'style' across the classes."""
        from gankit.models import class_grid_labels

        if not self.n_classes:
            raise GankitError("per_class needs a conditional generator (train with "
                              "conditional=True)")
        z = self.latents(n, seed).repeat(self.n_classes, 1)  # (K n, Z): row k repeats z
        images = self(z, class_grid_labels(self.n_classes, n))
        return Samples(images, nrow=n, row_labels=[str(k) for k in range(self.n_classes)])

    def interpolate(self, n: int = 8, steps: int = 10, seed: int = 0) -> Samples:
        """n rows, each walking from one random latent to another in `steps` + 1 frames
        along the great circle (spherical interpolation, gankit.viz.animate.slerp)."""
        import torch

        from gankit.errors import check_range
        from gankit.viz.animate import slerp

        check_range("steps", steps, 1, 1000)
        ends = self.latents(2 * n, seed)
        t = torch.linspace(0, 1, steps + 1)
        z = torch.stack([slerp(ends[:n], ends[n:], float(s)) for s in t], dim=1)  # (n, S+1, Z)
        labels = (torch.arange(n) % self.n_classes).repeat_interleave(steps + 1) \
            if self.n_classes else None
        return Samples(self(z.reshape(-1, self.z_dim), labels), nrow=steps + 1)


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
            return _open_image(grids[-1])
        wanted = self.path / "samples" / f"epoch_{epoch:04d}.png"
        if not wanted.is_file():
            have = ", ".join(str(int(p.stem.split("_")[1])) for p in grids)
            raise GankitError(f"run {str(self.path)!r} has no grid of epoch {epoch}; it has "
                              f"epochs {have} (train.sample_every sets which)")
        return _open_image(wanted)

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
        pic = _img_tag(grids[-1].read_bytes(), grids[-1].name) if grids else ""
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

class Evaluation(dict):
    """`gankit eval`'s metrics as a dict of floats (n, fid, kid, precision, ...).

    Beside the dict: `histogram` (class shares), `floor` (the same metrics of real MNIST
    training images: the best to hope for), `warnings`, `conditional` (per-class accuracy
    of a conditional G, else None) and `table()`, the CLI's table. Shows as that table.
    """

    def __init__(self, metrics: dict[str, float], histogram: list[float],
                 floor: dict[str, float], source: str, notes: list[str],
                 conditional: dict[str, Any] | None = None) -> None:
        super().__init__(metrics)
        self.histogram, self.floor, self.source = histogram, floor, source
        self.warnings, self.conditional = notes, conditional

    def table(self) -> str:
        """The plain-text table: metric | value | real-data floor."""
        from gankit.commands.eval import format_table

        return format_table(dict(self), self.floor, self.histogram, self.source)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.table())}</pre>"


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
    from gankit.runtime.device import resolve_device

    dev = str(resolve_device(device))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, asked, name = _eval_images(source, n, seed, dev, batch_size, value_range)
        ctx = ev.load_context(dev, extractor, data_dir, cache_dir)
        from gankit.metrics.features import extract

        feats, probs = extract(ctx.extractor, images, batch_size=batch_size, device=ctx.device)
        metrics, hist = ev.metrics_from_outputs(feats, probs, ctx, seed=seed)
        floor = ev.real_floor(ctx, data_dir=data_dir, cache_dir=cache_dir)
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    conditional = None
    if asked is not None:
        from gankit.metrics.conditional import conditional_accuracy

        conditional = conditional_accuracy(probs, asked)
    return Evaluation(metrics, hist, floor["metrics"], name, notes, conditional)


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
        from gankit.models import generate

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
        return _open_image(path) if path.suffix.lower() == ".png" else None
    with tempfile.TemporaryDirectory() as tmp:
        return _open_image(plot_games(Path(tmp) / "games.png"))


def toy_datasets() -> list[str]:
    """Names of the toy data sets (gaussian1d, ring2d, grid2d)."""
    from gankit.data.toy import TOY_DATASETS

    return list(TOY_DATASETS)


def toy_distribution(name: str) -> Any:
    """The toy distribution `name` (a Gaussian mixture that knows its modes and density)."""
    from gankit.data.toy import get_toy

    return get_toy(name)


def toy_data(name: str, n: int = 10_000, seed: int = 0) -> Samples:
    """n samples of a toy distribution (a toy run trains on n = 10,000 drawn with seed 0)."""
    from gankit.data.toy import make_toy

    return Samples(make_toy(name, n, seed))


class Comparison:
    """What `gankit.compare` produced: the folder, the runs, the summary and its table.

    Shows as the markdown table and the side-by-side samples.
    """

    def __init__(self, result: Any) -> None:
        self.path: Path = result.out
        self.runs: dict[str, list[Path]] = result.runs
        self.summary: dict[str, dict[str, dict[str, Any]]] = result.summary
        self.table: str = result.table
        self.seconds: float = result.seconds

    def samples(self) -> Any:
        """samples.png (final samples, one row per game) as a PIL image."""
        return _open_image(self.path / "samples.png")

    def curves(self) -> Any:
        """curves.png (the runs' training curves) as a PIL image."""
        return _open_image(self.path / "curves.png")

    def __repr__(self) -> str:
        return f"Comparison({str(self.path)!r}, games {', '.join(self.runs)})\n{self.table}"

    def _repr_html_(self) -> str:
        pic = self.path / "samples.png"
        img = _img_tag(pic.read_bytes(), "samples") if pic.is_file() else ""
        return f"<pre>{html.escape(self.table)}</pre>{img}"


def compare(data: str = "ring2d", games: Sequence[str] | str | None = None, seeds: int = 3,
            epochs: int | None = None, out: str | Path | None = None,
            preset: str | None = None, overrides: dict[str, Any] | None = None,
            log: Callable[[str], None] = print, **kwargs: Any) -> Comparison:
    """Train each game with seeds 0..seeds-1 on `data` under one budget; `gankit compare`.

    `games`: names or a comma-separated string (default the three generator games);
    `preset`: `toy` for toy data, else `default`; overrides as in `train`, for every run.
    """
    import time

    from gankit.runs.compare import compare as run_compare

    target = Path(out) if out is not None else (
        Path("runs") / f"compare-{data}-{time.strftime('%Y%m%d-%H%M%S')}")
    result = run_compare(data, target, games=games, seeds=seeds, epochs=epochs, preset=preset,
                         overrides=resolve_overrides(overrides, **kwargs), log=log)
    return Comparison(result)
