"""`gankit train`: build a config from preset + file + flags and train a run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gankit import datasets
from gankit.config import PRESET_HELP, PRESETS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a GAN (default: the notes' MLP on MNIST)",
        description="Train a GAN. Presets: " + "; ".join(f"{k}: {v}" for k, v in
                                                         PRESET_HELP.items())
        + ". Flags show the default preset's value; `gankit config show --preset P` prints "
          "every key of any preset.",
    )
    p.add_argument("--preset", default=None, choices=None, metavar="NAME",
                   help=f"starting config: {', '.join(PRESETS)} (default: the --config file's "
                        "preset: key, else default; the two must agree when both are given)")
    p.add_argument("--config", metavar="FILE", help="YAML or JSON config file (flags override)")
    p.add_argument("--loss", metavar="GAME",
                   help="game: minimax, non-saturating, maximum-likelihood, least-squares, "
                        "wgan-gp, hinge")
    p.add_argument("--model", metavar="NAME", help="mlp (default), dcgan, or toy-mlp (toy sets)")
    p.add_argument("--conditional", action="store_true", default=None,
                   help="condition G and D on the class labels")
    p.add_argument("--ema", type=float, metavar="DECAY",
                   help="sample from an EMA of G's weights, e.g. 0.999 (0 = off)")
    p.add_argument("--n-critic", type=int, metavar="K", help="D steps per G step (WGAN-GP: 5)")
    p.add_argument("--data", metavar="SOURCE",
                   help="data set (default mnist): " + ", ".join(
                       s.cli_form for s in datasets.DATASETS.values()))
    p.add_argument("--image-size", type=int, metavar="S",
                   help="side of the training images, resized to it (default: MNIST/IDX "
                        "native, folders 32)")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs to train (in total)")
    p.add_argument("--batch-size", type=int, metavar="B", help="images per iteration")
    p.add_argument("--seed", type=int, metavar="S", help="random seed")
    p.add_argument("--device", metavar="DEV", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--precision", metavar="P",
                   help="fp32, bf16 (autocast) or auto: bf16 where the CPU or GPU computes it "
                        "natively")
    p.add_argument("--lr-g", type=float, metavar="LR",
                   help="G's Adam learning rate (the notes' Keras code: 0.001)")
    p.add_argument("--beta1-g", type=float, metavar="B1",
                   help="G's Adam beta1 (the notes' Keras code: 0.9)")
    p.add_argument("--sample-every", type=int, metavar="K", help="grid every K epochs")
    p.add_argument("--data-dir", metavar="DIR", help="folder with MNIST IDX files")
    p.add_argument("--out", metavar="DIR", help="run folder (default runs/<preset>-<game>-<time>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its newest checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set train.lr_d=1e-4 (repeatable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--eval-every", type=int, metavar="K",
                   help="log FID, KID, classifier score, ... into metrics.jsonl every K epochs")
    p.add_argument("--eval-n", type=int, metavar="N", help="samples per evaluation")
    p.add_argument("--tensorboard", action="store_true",
                   help="also log to RUN/tensorboard (pip install 'gankit[tensorboard]')")
    show_defaults(p)
    p.set_defaults(func=run)


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append each config flag's value in the default preset to its help text (other presets:
    `gankit config show --preset P`)."""
    from gankit.config import config_value, from_preset

    cfg = from_preset("default")
    for action in parser._actions:
        key = FLAG_KEYS.get(action.dest)
        if key is not None and action.help and "default" not in action.help:
            value = config_value(cfg, key)
            action.help += f" (default preset: {'none' if value is None else value})"


FLAG_KEYS = {
    "loss": "loss.game",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "seed": "train.seed",
    "device": "train.device",
    "precision": "train.precision",
    "lr_g": "train.lr_g",
    "beta1_g": "train.beta1_g",
    "sample_every": "train.sample_every",
    "data_dir": "data.data_dir",
    "model": "model.name",
    "conditional": "model.conditional",
    "ema": "train.ema",
    "n_critic": "train.n_critic",
    "image_size": "data.image_size",
    "eval_every": "train.eval_every",
    "eval_n": "train.eval_n",
}
"""Named flags and the config keys they set."""


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Flag values (and --set KEY=VALUE pairs) as dotted config overrides."""

    out = parse_sets(args.set)
    for attr, key in FLAG_KEYS.items():
        value = getattr(args, attr)
        if value is not None:
            out[key] = value
    if args.no_progress:
        out["train.progress"] = False
    if getattr(args, "tensorboard", False):
        out["train.tensorboard"] = True
    if args.data is not None:
        out.update(data_overrides(args.data))
    return out


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs as {KEY: VALUE} (values are parsed later, by the config)."""
    from gankit.errors import ConfigError, short

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {short(item)} must look like KEY=VALUE, e.g. "
                              "train.lr_d=1e-4")
        out[key.strip()] = value.strip()
    return out


def data_overrides(source: str) -> dict[str, Any]:
    """`--data` value -> config keys: a registered data set's name, or `NAME:PATH` for a set
    that takes its folder on the command line (`folder:PATH`)."""
    from gankit.errors import ConfigError, short

    name, sep, path = source.partition(":")
    spec = datasets.DATASETS.get(name)
    if spec is not None and spec.path_in_cli:
        if not sep or not path.strip():
            raise ConfigError(f"--data {source!r} needs a path: use --data {spec.cli_form}")
        return {"data.dataset": name, "data.data_dir": path.strip()}
    if sep or spec is None:
        raise ConfigError(f"--data {short(source)} is unknown; use "
                          f"{', '.join(s.cli_form for s in datasets.DATASETS.values())}")
    return {"data.dataset": name}


def run(args: argparse.Namespace) -> int:
    """Train through the Python API (gankit.api.train) with the flags as overrides."""
    from gankit.api import train

    overrides = overrides_from_args(args)
    out = Path(args.out) if args.out else None
    if args.resume:
        if args.preset or args.config:
            from gankit.errors import ConfigError

            raise ConfigError("--resume takes the config from the checkpoint; drop --preset "
                              "and --config (flags like --epochs may extend the run)")
        train(out=out, resume=True, overrides=overrides)
        return 0
    # preset None: the --config file's preset: key, else default
    train(args.preset, out, config=args.config, overrides=overrides)
    return 0
