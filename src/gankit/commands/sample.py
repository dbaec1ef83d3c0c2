"""`gankit sample`: images from a checkpoint's generator, as a PNG grid or a .npy array,
or (`--interpolate`) a looping GIF that walks the latent space between random latents."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

INTERP_KEYS = 4
"""Random latents each interpolation cell loops through."""

MAX_IMAGES = 100_000
"""Most images one `gankit sample` may draw (a GIF: frames x cells)."""

MAX_STEPS = 1000
"""Most frames between two latents of an interpolation."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="generate images from a checkpoint (no data set needed)",
                       description="Generate images from a trained generator.")
    p.add_argument("--checkpoint", required=True, metavar="PATH",
                   help="checkpoint file, or a run folder (its newest checkpoint)")
    p.add_argument("--n", type=int, default=None,
                   help="number of images (default 100; with --per-class: per class, "
                        "default 10; with --interpolate 16 paths)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    p.add_argument("--out", default="samples.png", metavar="FILE",
                   help="output: .png writes a grid, .npy the raw uint8 images (N, H, W); "
                        "with --interpolate a .gif (default interp.gif)")
    p.add_argument("--nrow", type=int, default=None, help="images per grid row")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when present, else CPU), cpu, cuda, cuda:N (default auto)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--digit", "--class", dest="digit", type=int, default=None,
                       metavar="K", help="conditional G: draw only class K (e.g. the digit 7)")
    which.add_argument("--per-class", action="store_true",
                       help="conditional G: a grid with one row per class (--n per "
                            "class, default 10); column j uses one latent in every row")
    p.add_argument("--interpolate", action="store_true",
                   help="write a GIF (--out FILE.gif): each cell walks a loop through "
                        f"{INTERP_KEYS} random latents by spherical interpolation")
    p.add_argument("--steps", type=int, default=16,
                   help="with --interpolate: frames between two latents (default 16)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Draw the images through the Python API (gankit.api.Generator) and write them."""
    from gankit.api import load
    from gankit.errors import GankitError, check_range, short

    check_flags(args)
    if args.interpolate:
        return interpolate(args)
    if args.n is not None and args.n <= 0:
        raise GankitError(f"--n {args.n} must be > 0, e.g. --n 100")
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npy"):
        raise GankitError(f"--out {short(args.out)} must end in .png (a grid) or .npy (an array)")
    g = load(args.checkpoint, args.device)
    _, n, nrow = sample_labels(g.n_classes, args.n, args.digit, args.per_class, args.nrow)
    check_range("--n (images in all)", n, 1, MAX_IMAGES, "draw in several runs with --seed")
    if args.per_class:  # one labelled row per class (column j: one latent in every row),
        samples = g.per_class(nrow or 10, args.seed, args.nrow)  # or rows of --nrow
    else:
        samples = g.sample(n, args.seed, digit=args.digit, nrow=nrow)
    path = samples.save(out)
    print(f"wrote {n} images to {path}")
    return 0


def check_flags(args: argparse.Namespace) -> None:
    """Ranges of the numeric flags, and --out never the checkpoint read (before loading)."""
    from gankit.errors import SEED_MAX, check_range
    from gankit.fileio import refuse_overwrite
    from gankit.runs.checkpoint import list_checkpoints

    check_range("--seed", args.seed, 0, SEED_MAX)
    if args.n is not None:
        check_range("--n", args.n, 1, MAX_IMAGES)
    if args.nrow is not None:
        check_range("--nrow", args.nrow, 1, MAX_IMAGES, "images per grid row")
    if args.interpolate:
        check_range("--steps", args.steps, 1, MAX_STEPS, "frames between two latents")
    inputs = [Path(args.checkpoint), *list_checkpoints(args.checkpoint)]
    out = args.out if not (args.interpolate and args.out == "samples.png") else "interp.gif"
    refuse_overwrite(out, inputs)


def sample_labels(
    n_classes: int, n: int | None, digit: int | None, per_class: bool, nrow: int | None
) -> tuple[Any, int, int | None]:
    """(labels or None, number of images, grid row length) for the sample flags.

    Conditional G: --digit K -> n images of class K; --per-class -> one row of
    n (default 10) per class; neither -> n images of uniformly cycling classes 0, 1, ...
    """
    import torch

    from gankit.core.models import class_grid_labels
    from gankit.errors import GankitError

    if not n_classes:
        n = 100 if n is None else n
        if digit is not None or per_class:
            raise GankitError("this checkpoint's generator is not conditional: drop --digit / "
                              "--per-class (train with --conditional to get one)")
        return None, n, nrow
    if per_class:
        per_row = n or 10
        return class_grid_labels(n_classes, per_row), n_classes * per_row, per_row
    n = 100 if n is None else n
    if digit is not None:
        if not 0 <= digit < n_classes:
            raise GankitError(f"--digit {digit} is out of range; this generator knows "
                              f"classes 0..{n_classes - 1}")
        return torch.full((n,), digit, dtype=torch.long), n, nrow
    return torch.arange(n) % n_classes, n, nrow


def interpolate(args: argparse.Namespace) -> int:
    """`--interpolate`: a GIF of `n` cells, each slerping through INTERP_KEYS latents."""
    import numpy as np
    import torch

    from gankit.core.models import generate
    from gankit.errors import GankitError, check_range
    from gankit.runs.checkpoint import load_generator
    from gankit.runtime.device import resolve_device
    from gankit.viz.animate import interpolation_path, save_gif
    from gankit.viz.images import make_grid

    n = 16 if args.n is None else args.n
    if n <= 0:
        raise GankitError(f"--n {n} must be > 0, e.g. --n 16")
    if args.steps <= 0:
        raise GankitError(f"--steps {args.steps} must be > 0, e.g. --steps 16")
    check_range("--n x --steps x 4 (GIF images)", n * args.steps * INTERP_KEYS, 1, MAX_IMAGES,
                "fewer cells (--n) or frames (--steps)")
    out = Path("interp.gif" if args.out == "samples.png" else args.out)
    if out.suffix.lower() != ".gif":
        raise GankitError(f"--out {args.out!r} must end in .gif with --interpolate")
    device = resolve_device(args.device)
    g, cfg = load_generator(args.checkpoint, device)
    if args.per_class:
        raise GankitError("--per-class does not combine with --interpolate; use --digit K")
    labels, _, _ = sample_labels(getattr(g, "n_classes", 0), n, args.digit, False, None)
    gen = torch.Generator().manual_seed(args.seed)
    keys = torch.randn(INTERP_KEYS, n, cfg.model.z_dim, generator=gen)
    path = interpolation_path(keys, args.steps)  # (frames, n, Z)
    nrow = args.nrow or max(1, round(n ** 0.5))
    frames = []
    for z in path:
        with torch.no_grad():
            grid = make_grid(generate(g, z.to(device), labels).cpu(), nrow)
        frames.append(np.kron(grid, np.ones((2, 2) + grid.shape[2:], dtype=np.uint8)))
    save_gif(frames, out, frame_ms=80)
    print(f"wrote {len(frames)} frames of {n} interpolations to {out}")
    return 0
