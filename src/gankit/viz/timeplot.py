"""Time-to-quality curves: a quality metric (FID by default) against training seconds.

Reads runs' metrics.jsonl. x is the run's `elapsed` (training seconds over all sessions,
evaluation excluded); y is the metric wherever a record has it (evaluation may run every
K epochs only). A record with the metric but no `elapsed` takes the latest earlier one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.fileio import write_atomic
from gankit.log import read_metrics

LABELS = {"fid": "FID", "kid": "KID", "classifier_score": "classifier score",
          "precision": "precision", "recall": "recall"}
"""Axis names of the usual metric keys (others are shown as their key)."""


def metric_key(records: list[dict[str, Any]], wanted: str = "fid") -> str:
    """`wanted` if some record has it, else the one key containing it (e.g. fid_mnist)."""
    keys = {k for r in records for k, v in r.items() if isinstance(v, (int, float))}
    if wanted in keys:
        return wanted
    close = sorted(k for k in keys if wanted.lower() in k.lower())
    if len(close) == 1:
        return close[0]
    if close:
        raise GankitError(f"metrics log has several {wanted!r} keys ({', '.join(close)}); "
                          "choose one with --key")
    raise GankitError(f"no {wanted!r} in the metrics log (keys: {', '.join(sorted(keys))}); "
                      "train with --eval-every K, or choose another --key")


def time_to_quality(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(seconds, values) of the records that carry `key`, in log order."""
    xs: list[float] = []
    ys: list[float] = []
    elapsed = 0.0
    for r in records:
        if isinstance(r.get("elapsed"), (int, float)):
            elapsed = float(r["elapsed"])
        value = r.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            xs.append(elapsed)
            ys.append(float(value))
    return xs, ys


def plot_time_to_quality(runs: list[Path], out: Path, key: str = "fid",
                         log_y: bool = False) -> Path:
    """One line per run folder; writes the figure (format from `out`'s suffix)."""
    import matplotlib

    from gankit.viz.plots import _check_suffix

    _check_suffix(out)  # before any work: `--out t.txt` is one line, not a matplotlib error
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    used = key
    for run in runs:
        path = run / "metrics.jsonl" if run.is_dir() else run
        if not path.is_file():
            raise GankitError(f"{str(run)!r} has no metrics.jsonl; give a run folder")
        records = read_metrics(path)
        used = metric_key(records, key)
        xs, ys = time_to_quality(records, used)
        ax.plot(xs, ys, marker="o", ms=3, label=run.name if run.is_dir() else run.parent.name)
    name = LABELS.get(used, used)
    ax.set_xlabel("training wall-clock (s), evaluation excluded")
    ax.set_ylabel(name + (" (log scale)" if log_y else ""))
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"{name} against training time")
    out.parent.mkdir(parents=True, exist_ok=True)
    fmt = out.suffix.lower().lstrip(".")
    write_atomic(out, lambda tmp: fig.savefig(tmp, format=fmt, dpi=120))
    plt.close(fig)
    return out
