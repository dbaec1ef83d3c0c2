"""The report's pictures: metric curves as PNG bytes, the choice of grids, data URIs."""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gankit.report.read import RunData, as_number
from gankit.stats import BY_KEY

MAX_GRIDS = 24
"""At most this many epoch grids on a page (evenly spaced, first and last always kept)."""

CURVES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Losses", "loss (nats)", ("loss_d", "loss_g")),
    ("Discriminator outputs", "mean probability", ("d_real", "d_fake")),
    ("Jensen-Shannon estimate", "JS estimate (nats)", ("js_hat",)),
    ("Generator gradient", "L2 norm of dJ(G)/dθ", ("g_grad_norm",)),
    ("Gradient at the logit", "mean |dJ(G)/dl|", ("dj_dl",)),
)
"""Panels of the curves figure: (title, y-axis label, record keys). Legends, and whether a
curve is drawn on a log scale, are the keys' in gankit.stats."""

def fmt(v: Any) -> str:
    """How the report prints a value: 4 significant digits, thousands grouped, "—" for none."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, float):
        if v != 0 and (abs(v) >= 10_000):
            return f"{v:,.0f}"
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v)
    return str(v)


def _series(records: Sequence[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in records:
        y = as_number(r.get(key))
        x = as_number(r.get("epoch"))
        if y is not None and x is not None:
            xs.append(x)
            ys.append(y)
    return xs, ys


MAX_LEGEND = 8
"""Most legend entries a curve panel shows; more runs are grouped by their name less the seed."""


def _seed_group(label: str) -> str:
    """A run's name less its seed ("minimax-seed3" -> "minimax"): the runs of one game."""
    return re.sub(r"[-_ ,]*seed[-_ ]?\d+$", "", label) or label


def curve_png(title: str, ylabel: str,
              lines: Sequence[tuple[str, Sequence[float], Sequence[float]]],
              hline: tuple[float, str] | None = None, logy: bool = False) -> bytes:
    """One matplotlib panel as PNG bytes: lines of (legend, epochs, values), axes labelled."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.4, 3.3), dpi=140, layout="constrained")
    ax = fig.add_subplot()
    few = max((len(x) for _, x, _ in lines), default=0) <= 30
    groups = [_seed_group(label) for label, _, _ in lines]
    if len(lines) > MAX_LEGEND and len(set(groups)) <= MAX_LEGEND:
        # many seeds of a few games (gankit compare): one colour and legend entry per game
        colours = {g: f"C{i}" for i, g in enumerate(dict.fromkeys(groups))}
        named: set[str] = set()
        for (_, xs, ys), group in zip(lines, groups, strict=True):
            label = "_nolegend_" if group in named else f"{group} ({groups.count(group)} runs)"
            named.add(group)
            ax.plot(xs, ys, color=colours[group], linewidth=1.0, alpha=0.6, label=label)
    else:
        for label, xs, ys in lines:
            ax.plot(xs, ys, label=label, marker="o" if few else None, markersize=3,
                    linewidth=1.6)
    if hline is not None:
        ax.axhline(hline[0], color="0.45", linestyle=":", linewidth=1.2, label=hline[1])
    values = [y for _, _, ys in lines for y in ys]
    if logy and values and min(values) > 0 and max(values) > 10 * min(values):
        ax.set_yscale("log")
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _hline_for(key: str) -> tuple[float, str] | None:
    if key == "d_real":
        return (0.5, "equilibrium, 1/2")
    if key == "js_hat":
        return (math.log(2.0), "maximum, ln 2")
    return None


SCORE_CURVE = ("Discriminator outputs", "mean score (not a probability)", ("d_real", "d_fake"))
"""The D-output panel of games whose D outputs a score (records with d_output = score)."""


def _scores(run: RunData) -> bool:
    return any(r.get("d_output") == "score" for r in run.metrics)


def run_curves(run: RunData) -> list[tuple[str, bytes]]:
    """The curve panels of one run that have data: (title, PNG)."""
    out = []
    probabilistic = not _scores(run)
    for title, ylabel, keys in CURVES:
        hline = _hline_for(keys[0])
        if keys[0] == "d_real" and not probabilistic:
            title, ylabel, keys = SCORE_CURVE
            hline = None
        lines = [(BY_KEY[key].label_for(probabilistic), *_series(run.metrics, key))
                 for key in keys]
        lines = [ln for ln in lines if ln[1]]
        if lines:
            out.append((title, curve_png(title, ylabel, lines, hline,
                                         logy=BY_KEY[keys[0]].log_scale)))
    return out


def overlay_curves(runs: Sequence[RunData]) -> list[tuple[str, bytes]]:
    """One panel per statistic with a line per run: (title, PNG)."""
    out = []
    scores = any(_scores(r) for r in runs)
    for _title, ylabel, keys in CURVES:
        for key in keys:
            label = BY_KEY[key].label_for(not scores)
            lines = [(r.name, *_series(r.metrics, key)) for r in runs]
            lines = [ln for ln in lines if ln[1]]
            hline = _hline_for(key)
            if key in ("d_real", "d_fake") and scores:
                ylabel, hline = "mean D output (probability, or score for score games)", None
            if lines:
                out.append((label, curve_png(label, ylabel, lines, hline,
                                             logy=BY_KEY[key].log_scale)))
    return out


def pick_grids(grids: Sequence[Path], limit: int = MAX_GRIDS) -> list[Path]:
    """At most `limit` grids, evenly spaced over the run, first and last kept."""
    if len(grids) <= limit:
        return list(grids)
    idx = sorted({round(i * (len(grids) - 1) / (limit - 1)) for i in range(limit)})
    return [grids[i] for i in idx]


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def file_uri(path: Path) -> str:
    mime = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg",
            ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}[path.suffix.lower()]
    return data_uri(path.read_bytes(), mime)


