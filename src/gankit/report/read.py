"""Reading what runs left on disk: a run folder, evaluation files, table files."""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gankit.config import flatten, load_yaml
from gankit.errors import GankitError, short
from gankit.log import MAX_NUMBER, read_metrics


@dataclass
class EvalResult:
    """One evaluation file: metric values, the real-data floor of each, other entries."""

    source: str
    values: dict[str, float | None]
    floor: dict[str, float | None] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)


@dataclass
class RunData:
    """What a run folder holds, read once."""

    path: Path
    name: str
    config: dict[str, Any] | None
    config_text: str | None
    metrics: list[dict[str, Any]]
    grids: list[Path]
    evals: list[EvalResult]

    @property
    def last(self) -> dict[str, Any]:
        """The final epoch's record (empty when the log is empty)."""
        return self.metrics[-1] if self.metrics else {}


def is_run_dir(path: Path) -> bool:
    """A folder `gankit train` wrote: it has metrics.jsonl or config.yaml."""
    return path.is_dir() and ((path / "metrics.jsonl").is_file()
                              or (path / "config.yaml").is_file())


COMPARE_RUNS = "runs"
"""The subfolder in which `gankit compare` puts its runs."""


def sub_runs(path: Path) -> list[Path]:
    """A comparison's run folders, sorted: those directly inside `path` and those in
    `path/runs` (the layout `gankit compare` writes)."""
    if not path.is_dir():
        return []
    found = [p for p in path.iterdir() if is_run_dir(p)]
    if (path / COMPARE_RUNS).is_dir() and not is_run_dir(path / COMPARE_RUNS):
        found += [p for p in (path / COMPARE_RUNS).iterdir() if is_run_dir(p)]
    return sorted(found)


def as_number(v: Any) -> float | None:
    """A finite float, or None for null / NaN / infinities / magnitudes past MAX_NUMBER."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, int) and v.bit_length() > 64:  # a float would overflow
        return None
    return float(v) if math.isfinite(v) and abs(v) <= MAX_NUMBER else None


def _is_number_like(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def read_eval(path: str | Path) -> EvalResult:
    """Read an evaluation JSON generically; tolerant of these shapes (mixable):

      {"fid": 12.3, "kid": 0.01, "floor": {"fid": 0.9, "kid": 0.0}}
      {"metrics": {"fid": 12.3}, "floor": {"fid": 0.9}}      (also "real_floor", "floors")
      {"fid": {"value": 12.3, "floor": 0.9}}                 (a dict with "value")
      {"precision_recall": {"precision": 0.7, "recall": 0.5}} (nested -> "a.b" names)

    Numbers (or null) become metrics; strings, booleans and lists (e.g. "checkpoint",
    "n_samples" lists) become `info`. Anything unreadable raises GankitError.
    """
    p = Path(path)
    data = read_json(p, "evaluation file")
    if not isinstance(data, dict):
        raise GankitError(f"evaluation file {str(p)!r} must hold a JSON object of "
                          "metric -> value")
    result = EvalResult(source=p.name, values={})
    data = dict(data)
    for key in ("floor", "real_floor", "floors"):
        floor = data.pop(key, None)
        if isinstance(floor, dict):
            for name, v in flatten(floor).items():
                if _is_number_like(v):
                    result.floor[name] = as_number(v)
    metrics = data.pop("metrics", None)
    if isinstance(metrics, dict):
        data = {**metrics, **data}
    for name, v in data.items():
        if isinstance(v, dict) and "value" in v:
            result.values[name] = as_number(v["value"])
            if "floor" in v and _is_number_like(v["floor"]):
                result.floor[name] = as_number(v["floor"])
            continue
        for sub, w in (flatten(v, name + ".") if isinstance(v, dict) else {name: v}).items():
            if _is_number_like(w):
                result.values[sub] = as_number(w)
            else:
                result.info[sub] = w if isinstance(w, str) else json.dumps(w)
    return result


MAX_INPUT_BYTES = 16 << 20
"""Largest JSON or YAML file a report reads."""

MAX_DEPTH = 32
"""Deepest nesting of a JSON or YAML file a report reads."""


def _too_deep(data: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether containers nest deeper than `limit` (checked without recursion)."""
    stack = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _read_text(p: Path, what: str) -> str:
    """A bounded UTF-8 read, with one-line errors."""
    try:
        with open(p, "rb") as fh:
            raw = fh.read(MAX_INPUT_BYTES + 1)
    except OSError as err:
        raise GankitError(f"cannot read {what} {str(p)!r}: {err.strerror or err}") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise GankitError(f"{what} {str(p)!r} is larger than {MAX_INPUT_BYTES >> 20} MiB; "
                          "it is not a file gankit wrote: move it out of the folder")
    return raw.decode("utf-8", errors="replace")


def read_json(p: Path, what: str) -> Any:
    """A JSON file of bounded size and nesting, or a one-line GankitError naming it."""
    try:
        data = json.loads(_read_text(p, what))
    except (ValueError, RecursionError) as err:  # ValueError: also a 5,000-digit integer
        why = "nested too deeply" if isinstance(err, RecursionError) else short(str(err), 120)
        raise GankitError(f"cannot read {what} {str(p)!r}: {why}") from None
    if _too_deep(data):
        raise GankitError(f"{what} {str(p)!r} nests deeper than {MAX_DEPTH} levels; it is not "
                          "a file gankit wrote: move it out of the folder")
    return data


def grid_ok(path: Path) -> bool:
    """A sample grid: a regular file (never a FIFO, which would block the read) whose header
    reads and declares a sane size (never a PNG bomb)."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.width * im.height <= 4096 * 4096
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        return False


def epoch_of(path: Path) -> int:
    digits = re.sub(r"\D", "", path.stem)
    return int(digits) if digits else -1


def read_run(path: str | Path) -> RunData:
    """Read a run folder (anything missing is simply absent from the result)."""
    p = Path(path)
    config, text = None, None
    if (p / "config.yaml").is_file():
        text = _read_text(p / "config.yaml", "config file")
        try:
            loaded = load_yaml(text)  # bounded: an alias bomb is refused, not unfolded
            config = loaded if isinstance(loaded, dict) and not _too_deep(loaded) else None
        except (yaml.YAMLError, RecursionError, GankitError):
            config = None
        if config is not None and not all(isinstance(v, dict) or not isinstance(v, list)
                                          for v in config.values()):
            config = None
    metrics = read_metrics(p / "metrics.jsonl") if (p / "metrics.jsonl").is_file() else []
    grids = sorted((g for g in (p / "samples").glob("epoch_*.png") if grid_ok(g)),
                   key=epoch_of)
    evals = [read_eval(e) for e in sorted(p.glob("eval*.json")) if e.is_file()]
    return RunData(p, p.resolve().name, config, text, metrics, grids, evals)


def read_tables(path: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    """Tables a comparison folder holds: JSON (a list of row objects, {"rows": [...]}, or
    {name: {column: value}}) and markdown pipe tables; a markdown file whose JSON twin
    (same stem) was read is skipped. Returns (file name, rows)."""
    tables: list[tuple[str, list[dict[str, Any]]]] = []
    stems = set()
    for f in sorted(path.glob("*.json")):
        if f.name.startswith("eval") or not f.is_file():
            continue
        try:
            data = read_json(f, "table")
        except GankitError:
            continue
        rows = _json_rows(data)
        if rows:
            tables.append((f.name, rows))
            stems.add(f.stem)
    for f in sorted(path.glob("*.md")):
        if f.stem in stems or not f.is_file():
            continue
        try:
            rows = markdown_table(_read_text(f, "table"))
        except GankitError:
            continue
        if rows:
            tables.append((f.name, rows))
    return tables


def _json_rows(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return [flatten(r) for r in data]
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        return [{"run": k, **flatten(v)} for k, v in data.items()]
    return []


def markdown_table(text: str) -> list[dict[str, str]]:
    """The first pipe table in markdown text as rows (header -> cell); [] when none."""
    lines = [ln.strip() for ln in text.splitlines()]
    for i in range(len(lines) - 1):
        if lines[i].startswith("|") and re.fullmatch(r"\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?",
                                                     lines[i + 1]):
            header = _cells(lines[i])
            rows = []
            for ln in lines[i + 2:]:
                if not ln.startswith("|"):
                    break
                cells = _cells(ln)
                rows.append(dict(zip(header, cells + [""] * (len(header) - len(cells)),
                                     strict=False)))
            return rows
    return []


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


