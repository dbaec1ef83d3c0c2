"""What the Python API (gankit.api) returns, as objects a notebook shows: `Samples` (images
or toy points, displayed as a grid or a scatter), `Generator` (a trained G that samples,
draws per class and interpolates), `Evaluation` (the metrics, displayed as `gankit eval`'s
table) and `Comparison` (a `gankit compare` folder). Heavy libraries load on first use.
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gankit.config import Config
from gankit.errors import GankitError, short


def png_bytes(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def img_tag(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" '
            'style="image-rendering: pixelated">')


def open_image(path: Path) -> Any:
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

                return open_image(plot_points(Path(tmp) / "points.png",
                                               self.tensor.float().numpy()))
        from gankit.viz.images import make_grid

        img = Image.fromarray(make_grid(self.tensor, nrow or self.nrow))
        if scale > 1:
            img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
        return label_rows(img, self.row_labels) if self.row_labels else img

    def save(self, path: str | Path) -> Path:
        """Write a .png grid (points: a plot) or a .npy array; returns the path.

        As `gankit sample --out`: the name must end in .png or .npy (a folder or another
        suffix is refused, never turned into FOLDER.png)."""
        from gankit.viz.images import save_samples

        target = Path(path)
        if target.is_dir():
            raise GankitError(f"cannot save samples to {str(target)!r}: it is a folder; give "
                              f"a file in it, e.g. {str(target / 'samples.png')!r}")
        if target.suffix.lower() not in (".png", ".npy"):
            raise GankitError(f"cannot save samples to {short(str(target), 200)}: the name "
                              "must end in .png (a grid) or .npy (an array)")
        if self.row_labels and Path(path).suffix.lower() == ".png":
            from gankit.fileio import write_atomic

            img = self.image()
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(Path(path), lambda tmp: img.save(tmp, format="PNG"))
            return Path(path)
        return save_samples(self.tensor, path, nrow=self.nrow)

    def _repr_png_(self) -> bytes:
        return png_bytes(self.image())


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
        from gankit.core.models import generate

        return generate(self.module, z.to(self.device), labels)

    def sample(self, n: int = 100, seed: int = 0, digit: int | None = None,
               nrow: int | None = None) -> Samples:
        """n samples from the seeded latents; a conditional G draws class `digit` (or the
        classes 0, 1, ... in turn when `digit` is None)."""
        import torch

        from gankit.errors import check_range

        check_range("n", n, 1, 100_000, "draw in several calls with other seeds")
        if nrow is not None:
            check_range("nrow", nrow, 1, 100_000, "images per grid row")
        labels = None
        if digit is not None:
            if not self.n_classes:
                raise GankitError("this generator is not conditional: drop digit= (train with "
                                  "conditional=True to get one)")
            if isinstance(digit, bool) or not isinstance(digit, int) \
                    or not 0 <= digit < self.n_classes:
                raise GankitError(f"digit={digit} is out of range; this generator knows "
                                  f"classes 0..{self.n_classes - 1}")
            labels = torch.full((n,), digit, dtype=torch.long)
        elif self.n_classes:
            labels = torch.arange(n) % self.n_classes
        return Samples(self(self.latents(n, seed), labels), nrow)

    def per_class(self, n: int = 10, seed: int = 0, nrow: int | None = None) -> Samples:
        """A conditional G's grid: one labelled row per class, n columns; column j uses one
        latent in every row, so a column shows one 'style' across the classes. `nrow`: grid
        rows of that many images instead (then without the class labels, one to a row)."""
        from gankit.core.models import class_grid_labels
        from gankit.errors import check_range

        check_range("n", n, 1, 100_000 // max(self.n_classes, 1), "columns per class row")
        if nrow is not None:
            check_range("nrow", nrow, 1, 100_000, "images per grid row")
        if not self.n_classes:
            raise GankitError("per_class needs a conditional generator (train with "
                              "conditional=True)")
        z = self.latents(n, seed).repeat(self.n_classes, 1)  # (K n, Z): row k repeats z
        images = self(z, class_grid_labels(self.n_classes, n))
        if nrow is not None and nrow != n:
            return Samples(images, nrow=nrow)
        return Samples(images, nrow=n, row_labels=[str(k) for k in range(self.n_classes)])

    def interpolate(self, n: int = 8, steps: int = 10, seed: int = 0) -> Samples:
        """n rows, each walking from one random latent to another in `steps` + 1 frames
        along the great circle (gankit.viz.animate.interpolation_path, as `gankit sample
        --interpolate` walks)."""
        import torch

        from gankit.errors import check_range
        from gankit.viz.animate import interpolation_path

        check_range("steps", steps, 1, 1000)
        check_range("n", n, 1, 100_000 // (steps + 1), "rows x (steps + 1) images at most "
                    "100,000")
        ends = self.latents(2 * n, seed).view(2, n, self.z_dim)  # start, end of each row
        z = interpolation_path(ends, steps, loop=False).transpose(0, 1)  # (n, S+1, Z)
        labels = (torch.arange(n) % self.n_classes).repeat_interleave(steps + 1) \
            if self.n_classes else None
        return Samples(self(z.reshape(-1, self.z_dim), labels), nrow=steps + 1)


class Evaluation(dict):
    """`gankit eval`'s metrics as a dict of floats (n, fid, kid, precision, ...).

    Beside the dict: `histogram` (shares read as each digit; the rest, read as no
    digit, is ['not_digit']), `floor` (the same metrics of real MNIST
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
        """The plain-text table: metric | better | value | real-data floor | meaning."""
        from gankit.metrics.evaluate import format_table

        return format_table(dict(self), self.floor, self.histogram, self.source)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.table())}</pre>"


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
        return open_image(self.path / "samples.png")

    def curves(self) -> Any:
        """curves.png (the runs' training curves) as a PIL image."""
        return open_image(self.path / "curves.png")

    def __repr__(self) -> str:
        return f"Comparison({str(self.path)!r}, games {', '.join(self.runs)})\n{self.table}"

    def _repr_html_(self) -> str:
        pic = self.path / "samples.png"
        img = img_tag(pic.read_bytes(), "samples") if pic.is_file() else ""
        return f"<pre>{html.escape(self.table)}</pre>{img}"
