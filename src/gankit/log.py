"""The per-epoch metrics log: one JSON object a line (`metrics.jsonl`) in the run folder.

`MetricsLogger` is a tiny protocol (`log(record)`, `close()`) so other back-ends (TensorBoard)
can sit beside the JSONL file; `read_metrics` reads a log back for plots and reports.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Protocol

from gankit.fileio import write_text_atomic


class MetricsLogger(Protocol):
    """Anything that accepts one record per epoch."""

    def log(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class JsonlLogger:
    """Append records to a JSONL file, flushed after each line (survives crashes)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, record: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in record.items()}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(clean) + "\n")
            fh.flush()

    def truncate_after(self, epoch: int) -> None:
        """Drop records of epochs > `epoch` (after resuming from an older checkpoint)."""
        if not self.path.exists():
            return
        keep = [r for r in read_metrics(self.path) if int(r.get("epoch", 0)) <= epoch]
        write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in keep))

    def close(self) -> None:
        pass


MAX_NUMBER = 1e100
"""Largest magnitude a logged number may have; beyond it (a damaged or edited log: 1e308,
a 5,000-digit integer) it reads as missing, as an infinite loss is logged."""

MAX_EPOCH = 10**9
"""Largest epoch a record may name."""


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL metrics log; a torn last line (crash mid-write) is skipped, and so is any
    line that is not a flat JSON object of one epoch (a damaged or hand-edited log: no whole
    `epoch` in 0..MAX_EPOCH; a short list of short strings, such as `alarms`, counts as
    flat). A number beyond +-MAX_NUMBER reads as None (missing)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or len(line) > 1 << 20:
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # also an integer past Python's digit limit
            continue
        if not isinstance(record, dict) or not all(_flat(v) for v in record.values()):
            continue
        epoch = record.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= MAX_EPOCH:
            continue
        records.append({k: _bounded(v) for k, v in record.items()})
    return records


def _bounded(value: Any) -> Any:
    """`value`, or None for a number too large to plot or sum (see MAX_NUMBER)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, int) and value.bit_length() > 64:
            return None
        return value if abs(value) <= MAX_NUMBER else None
    return value


def _flat(value: Any) -> bool:
    """A value an epoch record may hold: a scalar, or a list of strings (the health alarms)."""
    if isinstance(value, list):
        return len(value) <= 16 and all(isinstance(x, str) and len(x) <= 64 for x in value)
    return not isinstance(value, dict)
