"""`gankit export`: a checkpoint's generator as TorchScript or ONNX, for use without gankit."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a checkpoint's generator as TorchScript or ONNX",
        description="Export G (its EMA weights when the run kept an EMA). The exported model "
                    "takes z (B, Z) float32, plus labels (B,) int64 when conditional, and "
                    "returns images (B, C, H, W) in [-1, 1].")
    p.add_argument("--checkpoint", required=True, metavar="PATH",
                   help="checkpoint file, or a run folder (its newest checkpoint)")
    p.add_argument("--format", default="torchscript", metavar="FMT",
                   help="torchscript (default; needs only PyTorch) or onnx (needs the onnx "
                        "package: pip install 'gankit[export]')")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="output file (default generator.pt / generator.onnx)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gankit.errors import GankitError
    from gankit.export import FORMATS, export_generator, require_onnx, verify_export
    from gankit.fileio import refuse_overwrite
    from gankit.runs.checkpoint import list_checkpoints, load_generator

    if args.format not in FORMATS:
        raise GankitError(f"--format {args.format!r} is unknown; choose one of: "
                          f"{', '.join(FORMATS)}")
    if args.format == "onnx":
        require_onnx()  # before loading anything
    out = args.out or ("generator.onnx" if args.format == "onnx" else "generator.pt")
    refuse_overwrite(out, [Path(args.checkpoint), *list_checkpoints(args.checkpoint)])
    g, _ = load_generator(args.checkpoint, "cpu")
    path = export_generator(g, out, args.format)
    diff = verify_export(g, path, args.format)
    inputs = "(z, labels)" if getattr(g, "n_classes", 0) else "(z)"
    check = ("not run (install onnxruntime to check)" if diff is None
             else f"max |difference| to gankit's G {diff:.2e}")
    print(f"wrote {args.format} generator {inputs} -> images to {path}; check: {check}")
    return 0
