"""The config's keys, types and one-line docs, read from the dataclasses' field docstrings.

The docs live once, as the string under each field of the config dataclasses; this module
reads them back with `ast` from those classes' source (wherever the classes live), for
`gankit config show` and `gankit config keys`. No torch, no numpy.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import textwrap
from dataclasses import fields
from typing import Any

import yaml

from gankit.config import SECTIONS, Config

_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)(?<!\.\.)\.\s+(?=[A-Z])")
"""A full stop that ends a sentence (not `e.g.`, not an ellipsis)."""


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """{field name: its docstring, whitespace-joined} of one dataclass."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for stmt, after in zip(body, body[1:], strict=False):
        if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[stmt.target.id] = " ".join(after.value.value.split())
    return docs


FULL_DOCS = "gankit config keys --full"
"""The command that shows every key's doc whole (`show` and `keys` give the first sentence)."""


def one_line(doc: str) -> str:
    """The first sentence of `doc`, whole (never cut mid-word; long ones are wrapped by the
    caller)."""
    end = _SENTENCE_END.search(doc)
    return doc if end is None else doc[: end.start() + 1]


def is_whole(doc: str) -> bool:
    """True when `one_line(doc)` is all of `doc`."""
    return one_line(doc) == doc


def keys(cfg: Config | None = None) -> list[tuple[str, str, Any, str]]:
    """(dotted key, type, value in `cfg` (default: the dataclass defaults), full doc) per key."""
    cfg = cfg or Config()
    out = []
    for section in SECTIONS:
        sub = getattr(cfg, section)
        docs = field_docs(type(sub))
        for f in fields(sub):
            out.append((f"{section}.{f.name}", str(f.type), getattr(sub, f.name),
                        docs.get(f.name, "")))
    return out


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix(
        "\n...").removesuffix("...").strip()


def annotated_yaml(cfg: Config, wrap: int = 100) -> str:
    """`cfg` as YAML that `--config` reads back, each key followed by the first sentence of
    its doc, whole (wrapped onto comment lines under it past `wrap` columns)."""
    lines = [f"# each key's doc, its first sentence ('+': the doc goes on; `{FULL_DOCS}` "
             "shows it whole)",
             f"preset: {_scalar(cfg.preset)}  # the preset this config started from"]
    rows = keys(cfg)
    width = max(len(k.split(".", 1)[1]) + len(_scalar(v)) for k, _, v, _ in rows) + 4
    section = None
    for key, _, value, doc in rows:
        sec, name = key.split(".", 1)
        if sec != section:
            section = sec
            lines.append(f"{sec}:")
        text = f"  {name}: {_scalar(value)}"
        if not doc:
            lines.append(text)
            continue
        first = one_line(doc) + ("" if is_whole(doc) else " +")
        room = max(wrap - width - 4, 40)
        parts = textwrap.wrap(first, room, break_long_words=False, break_on_hyphens=False)
        lines.append(f"{text:<{width}}  # {parts[0]}")
        lines.extend(f"{'':<{width}}  #   {part}" for part in parts[1:])
    return "\n".join(lines) + "\n"
