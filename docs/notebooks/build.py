"""Execute the notebooks (gan-notes.*.py) in a Jupyter kernel and write their .ipynb with outputs.

    .venv/bin/python docs/notebooks/build.py [--size ci|full] [NAME ...]

The committed .ipynb are written this way, so they open in JupyterLab (or on a code host)
with their pictures already there. To keep them small, each output keeps one picture format
(PNG: the text/html and JPEG copies of a picture are dropped), large PNGs are re-encoded with
a 128-colour palette, and cell timing metadata is not kept.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from PIL import Image

FOLDER = Path(__file__).resolve().parent
BIG = 60_000
"""PNG outputs larger than this (bytes) are re-encoded with a palette."""


def slim(nb: nbformat.NotebookNode) -> None:
    """One PNG per picture output, palette-encoded when large; no execution timings."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" not in data:
                continue
            for other in ("text/html", "image/jpeg"):
                data.pop(other, None)
            png = base64.b64decode(data["image/png"])
            if len(png) > BIG:
                buf = io.BytesIO()
                with Image.open(io.BytesIO(png)) as im:
                    im.convert("RGB").quantize(128).save(buf, "PNG", optimize=True)
                if buf.tell() < len(png):
                    data["image/png"] = base64.b64encode(buf.getvalue()).decode()


def build(source: Path, size: str) -> Path:
    nb = jupytext.read(source)
    env = {**os.environ, "GANKIT_NOTEBOOK_SIZE": size,
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    start = time.perf_counter()
    NotebookClient(nb, timeout=3600, kernel_name="python3",
                   resources={"metadata": {"path": str(FOLDER)}}).execute(env=env)
    slim(nb)
    target = source.with_suffix(".ipynb")
    nbformat.write(nb, target)
    print(f"{target.name}: {time.perf_counter() - start:.0f} s, "
          f"{target.stat().st_size / 1e3:.0f} kB", file=sys.stderr)
    return target


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=("ci", "full"), default="full")
    p.add_argument("names", nargs="*", help="e.g. gan-notes.en (default: every notebook)")
    a = p.parse_args()
    sources = [FOLDER / f"{n}.py" for n in a.names] or sorted(FOLDER.glob("gan-notes.*.py"))
    for source in sources:
        build(source, a.size)


if __name__ == "__main__":
    main()
