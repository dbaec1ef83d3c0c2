"""Reading what runs left on disk: a run folder, evaluation files, table files."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gankit.config import flatten
from gankit.errors import GankitError
from gankit.log import read_metrics


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
    """A finite float, or None for null / NaN / infinities."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


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
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GankitError(f"cannot read evaluation file {str(p)!r}: {err}") from None
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


def epoch_of(path: Path) -> int:
    digits = re.sub(r"\D", "", path.stem)
    return int(digits) if digits else -1


def read_run(path: str | Path) -> RunData:
    """Read a run folder (anything missing is simply absent from the result)."""
    p = Path(path)
    config, text = None, None
    if (p / "config.yaml").is_file():
        text = (p / "config.yaml").read_text(encoding="utf-8")
        try:
            loaded = yaml.safe_load(text)
            config = loaded if isinstance(loaded, dict) else None
        except yaml.YAMLError:
            config = None
    metrics = read_metrics(p / "metrics.jsonl") if (p / "metrics.jsonl").is_file() else []
    grids = sorted((p / "samples").glob("epoch_*.png"), key=epoch_of)
    evals = [read_eval(e) for e in sorted(p.glob("eval*.json"))]
    return RunData(p, p.resolve().name, config, text, metrics, grids, evals)


def read_tables(path: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    """Tables a comparison folder holds: JSON (a list of row objects, {"rows": [...]}, or
    {name: {column: value}}) and markdown pipe tables; a markdown file whose JSON twin
    (same stem) was read is skipped. Returns (file name, rows)."""
    tables: list[tuple[str, list[dict[str, Any]]]] = []
    stems = set()
    for f in sorted(path.glob("*.json")):
        if f.name.startswith("eval"):
            continue
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        rows = _json_rows(data)
        if rows:
            tables.append((f.name, rows))
            stems.add(f.stem)
    for f in sorted(path.glob("*.md")):
        if f.stem in stems:
            continue
        rows = markdown_table(f.read_text(encoding="utf-8", errors="replace"))
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


