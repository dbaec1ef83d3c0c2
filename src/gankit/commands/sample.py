"""`gankit sample`: images from a checkpoint's generator, as a PNG grid or a .npy array."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="generate images from a checkpoint (no data set needed)",
                       description="Generate images from a trained generator.")
    p.add_argument("--checkpoint", required=True, metavar="PATH",
                   help="checkpoint file, or a run folder (its newest checkpoint)")
    p.add_argument("--n", type=int, default=None,
                   help="number of images (default 100; with --per-class: per class, "
                        "default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    p.add_argument("--out", default="samples.png", metavar="FILE",
                   help="output: .png writes a grid, .npy the raw uint8 images (N, H, W)")
    p.add_argument("--nrow", type=int, default=None, help="images per grid row")
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto (default cpu)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--digit", "--class", dest="digit", type=int, default=None,
                       metavar="K", help="conditional G: draw only class K (e.g. the digit 7)")
    which.add_argument("--per-class", action="store_true",
                       help="conditional G: a grid with one row per class (--n per "
                            "class, default 10); column j uses one latent in every row")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from gankit.errors import GankitError
    from gankit.images import save_samples
    from gankit.models import generate
    from gankit.trainer import load_generator, resolve_device

    if args.n is not None and args.n <= 0:
        raise GankitError(f"--n {args.n} must be > 0, e.g. --n 100")
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npy"):
        raise GankitError(f"--out {args.out!r} must end in .png (a grid) or .npy (an array)")
    device = resolve_device(args.device)
    g, cfg = load_generator(args.checkpoint, device)
    labels, n, nrow = sample_labels(getattr(g, "n_classes", 0), args.n, args.digit,
                                    args.per_class, args.nrow)
    gen = torch.Generator().manual_seed(args.seed)
    if args.per_class:
        z = torch.randn(nrow, cfg.model.z_dim, generator=gen).repeat(n // nrow, 1).to(device)
    else:
        z = torch.randn(n, cfg.model.z_dim, generator=gen).to(device)
    images = generate(g, z, labels).cpu()
    path = save_samples(images, out, nrow=nrow)
    print(f"wrote {n} images to {path}")
    return 0


def sample_labels(
    n_classes: int, n: int | None, digit: int | None, per_class: bool, nrow: int | None
) -> tuple[Any, int, int | None]:
    """(labels or None, number of images, grid row length) for the sample flags.

    Conditional G: --digit K -> n images of class K; --per-class -> one row of
    n (default 10) per class; neither -> n images of uniformly cycling classes 0, 1, ...
    """
    import torch

    from gankit.errors import GankitError
    from gankit.models import class_grid_labels

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
