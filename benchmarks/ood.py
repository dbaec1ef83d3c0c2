"""What the extractor makes of images that are not digits: every metric, beside real digits.

Non-digit images (blank, white, uniform and sparse noise, scribbles, Gaussian noise, printed
letters, checkerboards, rectangles), each marked with whether the extractor saw its kind as
"not a digit" in training (from the extractor's record), then real training digits and, with
--checkpoint, a generator's samples; 2,000 images each against the MNIST test set, and the
real-data floor (10,000).

    python benchmarks/ood.py                               # the shipped extractor
    python benchmarks/ood.py --extractor old.safetensors   # another one, to compare
    python benchmarks/ood.py --checkpoint runs/r/checkpoints/epoch_0001.pt
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

KEYS = ("fid", "classifier_score", "classes_covered", "precision", "recall", "density",
        "coverage", "confidence")


def letters(n: int, rng: np.random.Generator) -> torch.Tensor:
    """Printed capital letters (no digit look-alikes such as O, I, S), white on black."""
    from PIL import Image, ImageDraw, ImageFont

    from gankit.metrics.features import to_model_input

    font = ImageFont.load_default(size=22)
    out = []
    for i in range(n):
        im = Image.new("L", (28, 28), 0)
        centre = (14 + int(rng.integers(-1, 2)), 14 + int(rng.integers(-1, 2)))
        ImageDraw.Draw(im).text(centre, "ABCDEFGHKMNPRWXYZ"[i % 17], fill=255, font=font,
                                anchor="mm", stroke_width=1, stroke_fill=255)
        out.append(np.asarray(im))
    return to_model_input(np.stack(out))


def checkerboards(n: int, rng: np.random.Generator) -> torch.Tensor:
    yy, xx = np.mgrid[:28, :28]
    sizes = rng.integers(2, 8, n)
    return torch.from_numpy(np.stack([((yy // k + xx // k) % 2) * 2.0 - 1 for k in sizes])
                            ).float().unsqueeze(1)


def rectangles(n: int, rng: np.random.Generator) -> torch.Tensor:
    out = -torch.ones(n, 1, 28, 28)
    for i in range(n):
        for _ in range(int(rng.integers(1, 4))):
            y0, x0 = rng.integers(0, 20, 2)
            h, w = rng.integers(3, 12, 2)
            out[i, 0, y0:y0 + h, x0:x0 + w] = 1.0
    return out


KIND_OF = {"blank": "constant", "white": "constant", "uniform noise": "uniform",
           "sparse noise": "sparse", "scribbles": "scribbles", "Gaussian noise": "gaussian",
           "printed letters": "letters", "checkerboards": "checkerboards",
           "rectangles": "rectangles"}
"""Each set's outlier kind (gankit.metrics.outliers), to mark the ones trained on."""


def image_sets(n: int, checkpoint: str | None, seen: list[str]) -> dict[str, torch.Tensor]:
    from gankit.data.mnist import load_mnist
    from gankit.metrics.features import to_model_input
    from gankit.metrics.outliers import outlier_images

    rng = np.random.default_rng(0)
    g = torch.Generator().manual_seed(0)
    train_x, _ = load_mnist("train")
    real = to_model_input(train_x[np.sort(rng.choice(len(train_x), n, replace=False))])
    odd = {
        "blank": -torch.ones(n, 1, 28, 28),
        "white": torch.ones(n, 1, 28, 28),
        "uniform noise": outlier_images("uniform", n, real, g),
        "sparse noise": outlier_images("sparse", n, real, g),
        "scribbles": outlier_images("scribbles", n, real, g),
        "Gaussian noise": (torch.randn(n, 1, 28, 28, generator=g) * 0.5 - 0.5).clamp(-1, 1),
        "printed letters": letters(n, rng),
        "checkerboards": checkerboards(n, rng),
        "rectangles": rectangles(n, rng),
    }
    sets = {f"{name} ({'trained on' if KIND_OF[name] in seen else 'never seen'})": x
            for name, x in odd.items()}
    sets["real training digits"] = real
    if checkpoint:
        from gankit.metrics.evaluate import sample_generator
        from gankit.runs.checkpoint import load_generator

        gen, cfg = load_generator(checkpoint)
        sets[f"samples of {checkpoint}"] = sample_generator(gen, cfg.model.z_dim, n, seed=0)
    return sets


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--extractor", help="extractor weights (default: the shipped ones)")
    p.add_argument("--checkpoint", help="also score this generator's samples")
    p.add_argument("--n", type=int, default=2000, help="images per kind (default 2000)")
    a = p.parse_args()
    from gankit.metrics.evaluate import evaluate_images, load_context, real_floor
    from gankit.metrics.features import extractor_record
    from gankit.runtime.cpu import cpu_summary

    ctx = load_context("cpu", a.extractor)
    record = extractor_record(a.extractor)
    print(f"extractor sha256 {ctx.extractor_sha256[:16]}..., outlier exposure "
          f"{record.get('outlier_exposure', 'none')}; CPU {cpu_summary()}\n")
    print(f"| images (n = {a.n:,}) | " + " | ".join(KEYS) + " |")
    print("|---" * (len(KEYS) + 1) + "|")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n < 10,000: the small-sample warning
        seen = (record.get("outlier_exposure") or {}).get("kinds", [])
        for name, x in image_sets(a.n, a.checkpoint, seen).items():
            m, _ = evaluate_images(x, ctx)
            print(f"| {name} | " + " | ".join(f"{m[k]:.3f}" for k in KEYS) + " |", flush=True)
    floor = real_floor(ctx)["metrics"]
    print("| real-data floor (10,000) | " + " | ".join(f"{floor[k]:.3f}" for k in KEYS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
