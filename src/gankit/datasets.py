"""The data-set registry: every data set gankit trains on, by name, in one table.

(It sits beside gankit.data, not in it: that package imports torch, and `gankit --help`
reads this table without torch.)

Config validation, `gankit train --data`, `gankit compare --data`, the loader
(`gankit.data.load_dataset`), the run folder's toy metrics, the health checks and the lab all
read `DATASETS` here; none keeps a list of its own. A new data set is one `DataSpec` entry
(below, or `register(...)` from your own code) plus its loader:

- an image set gives `load(cfg, log) -> (images, labels)`: uint8 (N, H, W) or (N, H, W, C),
  labels int64 (N,) or None; gankit scales, limits and resizes them;
- a toy set gives `toy() -> ToyDistribution` (gankit.data.toy), which the toy metrics and
  health checks score against exactly.

A loader may be a callable or a "module:function" string, imported when first used, so that
importing this module (as `gankit --help` does) imports no torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gankit.errors import ConfigError, short

if TYPE_CHECKING:
    from gankit.config import DataConfig
    from gankit.data.toy import ToyDistribution

KINDS = ("image", "toy")
"""What a data set holds: images (N, C, H, W) or toy vectors (N, V)."""


@dataclass(frozen=True)
class DataSpec:
    """One data set: its name, what it holds and how to load it."""

    name: str
    """What `data.dataset` and `--data` call it."""
    kind: str
    """`image` or `toy` (KINDS): toy sets train the toy MLP and have exact toy metrics."""
    summary: str
    """One line for help texts."""
    load: Callable[..., Any] | str | None = None
    """Image sets: `(cfg: DataConfig, log) -> (images uint8, labels int64 or None)`."""
    toy: Callable[[], ToyDistribution] | str | None = None
    """Toy sets: `() -> ToyDistribution`."""
    channels: int = 1
    """Image sets: channels of an image (memory estimate before loading)."""
    image_size: int = 28
    """Image sets: side of an image when `data.image_size` is None."""
    n_train: int = 70_000
    """Image sets: images assumed by the memory estimate when `data.limit` is None."""
    needs_dir: str | None = None
    """What `data.data_dir` must hold, when this set needs it (said in the error)."""
    cli: str | None = None
    """How `--data` spells it, when not just the name (e.g. `folder:PATH`)."""
    path_in_cli: bool = False
    """`--data NAME:PATH` sets `data.data_dir` to PATH."""
    compare_preset: str | None = None
    """The preset `gankit compare` starts from (default: `toy` for toy sets, else `default`)."""

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert (self.toy is not None) == (self.kind == "toy"), self.name
        assert (self.load is not None) == (self.kind == "image"), self.name

    @property
    def is_toy(self) -> bool:
        return self.kind == "toy"

    @property
    def cli_form(self) -> str:
        """The set as written on the command line."""
        return self.cli or self.name

    def loader(self) -> Callable[..., Any]:
        """The image loader, imported if given as "module:function"."""
        assert self.load is not None, f"{self.name} is a toy set"
        return _resolve(self.load)

    def distribution(self) -> ToyDistribution:
        """The toy distribution (toy sets only)."""
        assert self.toy is not None, f"{self.name} is not a toy set"
        return _resolve(self.toy)()

    def sample_shape(self, cfg: DataConfig) -> tuple[int, ...]:
        """Shape of one training sample under `cfg`, known before loading (imports torch for
        a toy set)."""
        if self.is_toy:
            return self.distribution().sample_shape
        side = cfg.image_size or self.image_size
        return (self.channels, side, side)

    def size(self, cfg: DataConfig) -> int:
        """Number of training samples under `cfg` (image sets: an upper estimate)."""
        return cfg.toy_samples if self.is_toy else cfg.limit or self.n_train


def _resolve(ref: Callable[..., Any] | str) -> Callable[..., Any]:
    if callable(ref):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


FOLDER_IMAGE_SIZE = 32
"""Image side of a folder data set when `data.image_size` is None (IDX/MNIST: native)."""


def _load_mnist(cfg: DataConfig, log: Callable[[str], None] | None = None) -> tuple[Any, Any]:
    from gankit.data.mnist import load_mnist

    kwargs: dict[str, Any] = {"data_dir": cfg.data_dir}
    if log is not None:
        kwargs["progress"] = log
    return load_mnist("train", **kwargs)


def _load_idx(cfg: DataConfig, log: Callable[[str], None] | None = None) -> tuple[Any, Any]:
    from gankit.data.mnist import load_idx_folder

    return load_idx_folder(cfg.data_dir, "train", num_classes=None)


def _load_folder(cfg: DataConfig, log: Callable[[str], None] | None = None) -> tuple[Any, Any]:
    from gankit.data.folder import load_folder

    images, labels, _ = load_folder(cfg.data_dir, cfg.image_size or FOLDER_IMAGE_SIZE, log=log)
    return images, labels


DATASETS: dict[str, DataSpec] = {}
"""Name -> DataSpec of every data set gankit knows, in the order help texts list them."""


def register(spec: DataSpec) -> DataSpec:
    """Add a data set; its name must be new."""
    if spec.name in DATASETS:
        raise ConfigError(f"data set {spec.name!r} is registered already; pick another name")
    DATASETS[spec.name] = spec
    return spec


for _spec in (
    DataSpec("mnist", "image", "the MNIST digits (fetched and verified on first use)",
             load=_load_mnist),
    DataSpec("idx", "image", "any folder of MNIST-format IDX files, e.g. Fashion-MNIST",
             load=_load_idx, needs_dir="a folder of IDX files: add --data-dir DIR",
             cli="idx (with --data-dir DIR)"),
    DataSpec("folder", "image", "your PNG/JPEG images (subfolders = classes)",
             load=_load_folder, channels=3, image_size=FOLDER_IMAGE_SIZE,
             needs_dir="a folder of images: use --data folder:PATH", cli="folder:PATH",
             path_in_cli=True),
    DataSpec("gaussian1d", "toy", "1-D Gaussian N(4, 0.5^2)",
             toy="gankit.data.toy:gaussian1d"),
    DataSpec("ring2d", "toy", "8 Gaussians on a circle", toy="gankit.data.toy:ring2d",
             compare_preset="toy-ring"),
    DataSpec("grid2d", "toy", "25 Gaussians on a 5 x 5 grid", toy="gankit.data.toy:grid2d",
             compare_preset="toy-grid"),
):
    register(_spec)


def names(kind: str | None = None) -> list[str]:
    """Registered names, all or those of one kind."""
    return [n for n, s in DATASETS.items() if kind is None or s.kind == kind]


def get(name: str) -> DataSpec:
    """The data set called `name`; an unknown name raises a one-line ConfigError."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"data.dataset={short(name)} is unknown; choose one of: "
                          f"{', '.join(DATASETS)}") from None


def is_toy(name: str) -> bool:
    """Whether `name` is a registered toy data set."""
    spec = DATASETS.get(name) if isinstance(name, str) else None
    return spec is not None and spec.is_toy
