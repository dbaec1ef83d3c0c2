"""`gankit sample`: images from a checkpoint's generator, as a PNG grid or a .npy array."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="generate images from a checkpoint (no data set needed)",
                       description="Generate images from a trained generator.")
    p.add_argument("--checkpoint", required=True, metavar="PATH",
                   help="checkpoint file, or a run folder (its newest checkpoint)")
    p.add_argument("--n", type=int, default=100, help="number of images (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    p.add_argument("--out", default="samples.png", metavar="FILE",
                   help="output: .png writes a grid, .npy the raw uint8 images (N, H, W)")
    p.add_argument("--nrow", type=int, default=None, help="images per grid row")
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto (default cpu)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from gankit.errors import GankitError
    from gankit.images import save_samples
    from gankit.models import generate
    from gankit.trainer import load_generator, resolve_device

    if args.n <= 0:
        raise GankitError(f"--n {args.n} must be > 0, e.g. --n 100")
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npy"):
        raise GankitError(f"--out {args.out!r} must end in .png (a grid) or .npy (an array)")
    device = resolve_device(args.device)
    g, cfg = load_generator(args.checkpoint, device)
    gen = torch.Generator().manual_seed(args.seed)
    z = torch.randn(args.n, cfg.model.z_dim, generator=gen).to(device)
    images = generate(g, z).cpu()
    path = save_samples(images, out, nrow=args.nrow)
    print(f"wrote {args.n} images to {path}")
    return 0
