"""`gankit eval`: score a generator or a set of images against MNIST, offline.

    gankit eval RUN_OR_CHECKPOINT [--n 10000] [--seed 0] [--out JSON] [--batch-size 500]
    gankit eval --images PATH [--range byte|unit|signed] [--key NAME] [--out JSON]
    gankit eval train-extractor [--epochs 4] [--seed 0] [--outlier-weight 0.5] [--out PATH]

Prints a table (metric | value | real-data floor) and writes the same as JSON. The metrics
live in `gankit.metrics`; this module only parses flags, loads inputs and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from gankit.errors import CheckpointError, ConfigError, GankitError

TRAIN_EXTRACTOR = "train-extractor"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare `gankit eval` and its flags."""
    p = subparsers.add_parser(
        "eval",
        help="score a generator or images: FID, KID, classifier score, modes, precision/recall",
        description=(
            "Evaluate generated digits against the MNIST test set in the feature space of "
            "gankit's shipped MNIST classifier (no network needed). RUN_OR_CHECKPOINT is a "
            "run folder (its latest checkpoint), a checkpoint file, or `train-extractor` to "
            "retrain the feature extractor. Figures from different extractors are not comparable."
        ),
    )
    p.add_argument("target", nargs="?", metavar="RUN_OR_CHECKPOINT",
                   help="run folder or checkpoint file; or `train-extractor`")
    p.add_argument("--images", metavar="PATH",
                   help="evaluate images instead: .npy / .npz array or a folder of 28x28 PNGs")
    p.add_argument("--range", dest="value_range", choices=("byte", "unit", "signed"),
                   help="value range of --images: byte [0,255], unit [0,1], signed [-1,1] "
                        "(default: detected from dtype and values)")
    p.add_argument("--key", help="array name inside an .npz holding several arrays")
    p.add_argument("--n", type=int, default=10_000,
                   help="samples drawn from the generator (default 10000; fewer gives a warning)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the latents, the KID subsets (and of train-extractor) "
                        "(default 0)")
    p.add_argument("--batch-size", type=int, default=500,
                   help="batch size for G and extractor (default 500)")
    p.add_argument("--device", default="auto",
                   help="auto (CUDA when present, else CPU), cpu, cuda, cuda:N (default auto)")
    p.add_argument("--out", metavar="PATH",
                   help="JSON to write (default: eval_<checkpoint>_n<N>.json in the run "
                        "folder or beside the checkpoint; none for --images); for "
                        "train-extractor, the weights (default ./mnist_extractor.safetensors)")
    p.add_argument("--extractor", metavar="PATH",
                   help="extractor weights (.safetensors with its .json); default: shipped")
    p.add_argument("--epochs", type=int, help="train-extractor only: epochs (default 4)")
    p.add_argument("--outlier-weight", type=float,
                   help="train-extractor only: weight of the outlier-exposure cost that "
                        "teaches a uniform answer on non-digits (default 0.5; 0 = off)")
    p.add_argument("--data-dir", help="folder of MNIST IDX files (see `gankit data`)")
    p.add_argument("--cache-dir", help="gankit cache folder (MNIST and the real-data floor)")
    p.set_defaults(func=run)
    return p  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Dispatch on the target: train the extractor, or evaluate a checkpoint or images."""
    if args.target == TRAIN_EXTRACTOR:
        return _train_extractor(args)
    for flag, value in (("--epochs", args.epochs), ("--outlier-weight", args.outlier_weight)):
        if value is not None:
            raise ConfigError(f"{flag} {value} applies only to `gankit eval train-extractor`")
    if (args.target is None) == (args.images is None):
        raise ConfigError(
            "give exactly one of RUN_OR_CHECKPOINT or --images PATH "
            f"(got {args.target!r} and {args.images!r})"
        )
    if args.n < 6:
        raise ConfigError(f"--n {args.n} is too small; use --n 10000 for a reported figure")
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size} must be positive")
    from gankit.errors import SEED_MAX, check_range
    from gankit.fileio import refuse_overwrite
    from gankit.metrics.images import MAX_IMAGES
    from gankit.runs.checkpoint import list_checkpoints

    check_range("--n", args.n, 6, MAX_IMAGES, "10000 is the reported figure")
    check_range("--seed", args.seed, 0, SEED_MAX)
    check_range("--batch-size", args.batch_size, 1, MAX_IMAGES)
    if args.out is not None:
        inputs = [p for p in (args.target, args.images, args.extractor) if p is not None]
        refuse_overwrite(args.out, [*inputs, *(list_checkpoints(args.target)
                                               if args.target else [])])
    return _evaluate(args)


def _evaluate(args: argparse.Namespace) -> int:
    from gankit.metrics import evaluate as ev
    from gankit.runtime.device import resolve_device

    args.device = str(resolve_device(args.device))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source, images, out = _load_samples(args)
        ctx = ev.load_context(args.device, args.extractor, args.data_dir, args.cache_dir)
        scored = ev.score(images, ctx, seed=args.seed, batch_size=args.batch_size,
                          asked=getattr(args, "asked_labels", None), data_dir=args.data_dir,
                          cache_dir=args.cache_dir)
    metrics, hist, floor = scored.metrics, scored.histogram, scored.floor
    conditional = scored.conditional
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    print(ev.format_table(metrics, floor["metrics"], hist, source))
    if conditional is not None:
        from gankit.metrics.conditional import format_accuracy

        print(format_accuracy(conditional))
    for note in notes:
        print(f"gankit: warning: {note}", file=sys.stderr)
    if out is not None:
        from gankit.fileio import write_text_atomic
        from gankit.metrics.features import extractor_record

        record = extractor_record(args.extractor)
        result = {
            "source": source,
            "n": int(metrics["n"]),
            "seed": args.seed,
            "metrics": metrics,
            "class_histogram": hist,
            "real_floor": floor["metrics"],
            "real_floor_what": floor["what"],
            "extractor": {"sha256": record["sha256"], "test_accuracy": record["test_accuracy"]},
            "warnings": notes,
        }
        if conditional is not None:
            result["conditional_accuracy"] = conditional
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, json.dumps(result, indent=2) + "\n")  # never through a link
        print(f"wrote {out}")
    return 0


def _load_samples(args: argparse.Namespace) -> tuple[str, Any, Path | None]:
    """(source description, images (N, 1, 28, 28) in [-1, 1], JSON path or None)."""
    out = Path(args.out) if args.out else None
    if args.images is not None:
        from gankit.metrics.images import load_images

        return str(args.images), load_images(args.images, args.value_range, args.key), out
    if args.value_range is not None or args.key is not None:
        raise ConfigError("--range and --key apply only to --images")
    from gankit.metrics.evaluate import sample_generator
    from gankit.runs.checkpoint import latest_valid, load_generator, resolve_checkpoint

    if Path(args.target).is_dir():  # its newest checkpoint that loads, as sample and export
        ckpt, _ = latest_valid(args.target, warn=lambda m: print(m, file=sys.stderr))
    else:
        ckpt = resolve_checkpoint(args.target)
    g, cfg = load_generator(ckpt, device=args.device)
    n_classes = getattr(g, "n_classes", 0)
    if n_classes:
        # A conditional G: ask for the classes in turn (balanced), and remember what was asked.
        import torch

        from gankit.core.models import generate

        args.asked_labels = torch.arange(args.n) % n_classes
        gen = torch.Generator().manual_seed(args.seed)  # the same z as sample_generator
        z = torch.randn(args.n, cfg.model.z_dim, generator=gen)
        images = generate(g, z.to(args.device), args.asked_labels,
                          batch=args.batch_size).float().clamp(-1, 1).cpu()
    else:
        images = sample_generator(g, cfg.model.z_dim, args.n, args.device, args.seed,
                                  args.batch_size)
    if tuple(images.shape[1:]) != (1, 28, 28):
        raise CheckpointError(
            f"checkpoint {ckpt} generates samples of shape {tuple(images.shape[1:])}, not 28x28 "
            "grayscale digits; gankit eval scores MNIST generators only"
        )
    if getattr(getattr(cfg, "data", None), "dataset", "mnist") != "mnist":
        warnings.warn(
            f"run trained on data set {cfg.data.dataset!r}; the metrics compare to MNIST digits",
            stacklevel=1,
        )
    if out is None:
        folder = Path(args.target) if Path(args.target).is_dir() else ckpt.parent
        out = folder / f"eval_{ckpt.stem}_n{args.n}.json"
    return str(ckpt), images, out


def _train_extractor(args: argparse.Namespace) -> int:
    import torch

    from gankit.data.mnist import load_mnist
    from gankit.errors import check_range
    from gankit.metrics.features import OUTLIER_WEIGHT, save_extractor, train_extractor

    epochs = 4 if args.epochs is None else args.epochs
    if epochs < 1:
        raise ConfigError(f"--epochs {epochs} must be at least 1")
    weight = OUTLIER_WEIGHT if args.outlier_weight is None else args.outlier_weight
    check_range("--outlier-weight", weight, 0.0, 10.0, "0.5 is the default, 0 turns it off")
    out = Path(args.out) if args.out else Path("mnist_extractor.safetensors")
    if out.suffix != ".safetensors":
        raise ConfigError(f"--out {out} must end in .safetensors (the json goes beside it)")
    train_x, train_y = load_mnist("train", data_dir=args.data_dir, cache_dir=args.cache_dir)
    test_x, test_y = load_mnist("test", data_dir=args.data_dir, cache_dir=args.cache_dir)
    print(f"training the extractor: {epochs} epochs, seed {args.seed}, outlier weight "
          f"{weight}, {torch.get_num_threads()} threads")  # fmt: skip
    start = time.perf_counter()
    result = train_extractor(train_x, train_y, test_x, test_y, epochs=epochs, seed=args.seed,
                             outlier_weight=weight)
    command = (f"gankit eval train-extractor --epochs {epochs} --seed {args.seed} "
               f"--outlier-weight {weight}")
    record = save_extractor(result, out, command)
    print(f"test accuracy {result.test_accuracy:.4%} in {time.perf_counter() - start:.0f}s; "
          f"wrote {out} (sha256 {record['sha256'][:16]}...) and {out.with_suffix('.json').name}")
    if result.test_accuracy < 0.993:
        raise GankitError(
            f"extractor test accuracy {result.test_accuracy:.4%} is below 99.3%; "
            "train longer with --epochs"
        )
    return 0  # fmt: skip
