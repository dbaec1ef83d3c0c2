"""The run report: one self-contained HTML page for a run folder or a comparison folder.

`write_report(path)` reads what a run left on disk and writes `report.html` (and, for a run,
`progress.gif` from its epoch grids). The page needs nothing but a browser: images are
embedded as base64 data URIs, the CSS is inline, there is no script and no external font.

What is read (everything optional except that the folder must look like a run):
  config.yaml             shown as one table per section, and raw in a fold-out
  metrics.jsonl           per-epoch records (log.py); curves of loss_d/loss_g, D(x)/D(G(z)),
                          and the diagnostics js_hat, g_grad_norm, dj_dl when present
  samples/epoch_NNNN.png  the fixed-latent grids over the epochs
  eval*.json              evaluation results, read generically (see `read_eval`)

A folder whose sub-folders are runs (as `gankit compare` writes) is a comparison: the page
shows its table files (`*.json` tables, markdown pipe tables), a final-epoch table of the
runs, the config keys that differ, overlaid curves and each run's last grid.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gankit import __version__
from gankit.errors import GankitError, short
from gankit.fileio import write_text_atomic
from gankit.log import read_metrics

MAX_GRIDS = 24
"""At most this many epoch grids on a page (evenly spaced, first and last always kept)."""

CURVES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("Losses", "loss (nats)", (("loss_d", "D loss"), ("loss_g", "G loss"))),
    ("Discriminator outputs", "mean probability", (("d_real", "D(x), real"),
                                                   ("d_fake", "D(G(z)), fake"))),
    ("Jensen-Shannon estimate", "JS estimate (nats)", (("js_hat", "JS-hat from D"),)),
    ("Generator gradient", "L2 norm of dJ(G)/dθ", (("g_grad_norm", "|∇θ J(G)|"),)),
    ("Gradient at the logit", "mean |dJ(G)/dl|", (("dj_dl", "|dJ/dl|"),)),
)
"""Panels of the curves figure: (title, y-axis label, ((record key, legend), ...))."""

SUMMARY_KEYS: tuple[tuple[str, str], ...] = (
    ("loss_d", "D loss"), ("loss_g", "G loss"), ("d_real", "D(x)"), ("d_fake", "D(G(z))"),
    ("js_hat", "JS-hat"), ("g_grad_norm", "G grad norm"), ("dj_dl", "|dJ/dl|"),
    ("images_per_s", "images/s"),
)
"""Per-epoch record keys shown in the summary and per-epoch tables, with their labels."""


# --------------------------------------------------------------------------- reading
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


def sub_runs(path: Path) -> list[Path]:
    """Run folders directly inside `path`, sorted by name (a comparison's runs)."""
    return sorted(p for p in path.iterdir() if is_run_dir(p)) if path.is_dir() else []


def _number(v: Any) -> float | None:
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
    data = read_json(p, "evaluation file")
    if not isinstance(data, dict):
        raise GankitError(f"evaluation file {str(p)!r} must hold a JSON object of "
                          "metric -> value")
    result = EvalResult(source=p.name, values={})
    data = dict(data)
    for key in ("floor", "real_floor", "floors"):
        floor = data.pop(key, None)
        if isinstance(floor, dict):
            for name, v in _flatten(floor).items():
                if _is_number_like(v):
                    result.floor[name] = _number(v)
    metrics = data.pop("metrics", None)
    if isinstance(metrics, dict):
        data = {**metrics, **data}
    for name, v in data.items():
        if isinstance(v, dict) and "value" in v:
            result.values[name] = _number(v["value"])
            if "floor" in v and _is_number_like(v["floor"]):
                result.floor[name] = _number(v["floor"])
            continue
        for sub, w in (_flatten(v, name + ".") if isinstance(v, dict) else {name: v}).items():
            if _is_number_like(w):
                result.values[sub] = _number(w)
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
    except (json.JSONDecodeError, RecursionError) as err:
        why = "nested too deeply" if isinstance(err, RecursionError) else short(str(err), 120)
        raise GankitError(f"cannot read {what} {str(p)!r}: {why}") from None
    if _too_deep(data):
        raise GankitError(f"{what} {str(p)!r} nests deeper than {MAX_DEPTH} levels; it is not "
                          "a file gankit wrote: move it out of the folder")
    return data


def _grid_ok(path: Path) -> bool:
    """A sample grid whose header reads and declares a sane size (never a PNG bomb)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.width * im.height <= 4096 * 4096
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        return False


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _epoch_of(path: Path) -> int:
    digits = re.sub(r"\D", "", path.stem)
    return int(digits) if digits else -1


def read_run(path: str | Path) -> RunData:
    """Read a run folder (anything missing is simply absent from the result)."""
    p = Path(path)
    config, text = None, None
    if (p / "config.yaml").is_file():
        text = _read_text(p / "config.yaml", "config file")
        try:
            loaded = yaml.safe_load(text)
            config = loaded if isinstance(loaded, dict) and not _too_deep(loaded) else None
        except (yaml.YAMLError, RecursionError):
            config = None
        if config is not None and not all(isinstance(v, dict) or not isinstance(v, list)
                                          for v in config.values()):
            config = None
    metrics = read_metrics(p / "metrics.jsonl") if (p / "metrics.jsonl").is_file() else []
    grids = sorted((g for g in (p / "samples").glob("epoch_*.png") if _grid_ok(g)),
                   key=_epoch_of)
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
            data = read_json(f, "table")
        except GankitError:
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
        return [_flatten(r) for r in data]
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        return [{"run": k, **_flatten(v)} for k, v in data.items()]
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


# --------------------------------------------------------------------------- pictures
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
        y = _number(r.get(key))
        x = _number(r.get("epoch"))
        if y is not None and x is not None:
            xs.append(x)
            ys.append(y)
    return xs, ys


def curve_png(title: str, ylabel: str,
              lines: Sequence[tuple[str, Sequence[float], Sequence[float]]],
              hline: tuple[float, str] | None = None, logy: bool = False) -> bytes:
    """One matplotlib panel as PNG bytes: lines of (legend, epochs, values), axes labelled."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.4, 3.3), dpi=140, layout="constrained")
    ax = fig.add_subplot()
    few = max((len(x) for _, x, _ in lines), default=0) <= 30
    for label, xs, ys in lines:
        ax.plot(xs, ys, label=label, marker="o" if few else None, markersize=3, linewidth=1.6)
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


SCORE_CURVE = ("Discriminator outputs", "mean score (not a probability)",
               (("d_real", "D score, real"), ("d_fake", "D score, fake")))
"""The D-output panel of games whose D outputs a score (records with d_output = score)."""


def _scores(run: RunData) -> bool:
    return any(r.get("d_output") == "score" for r in run.metrics)


def run_curves(run: RunData) -> list[tuple[str, bytes]]:
    """The curve panels of one run that have data: (title, PNG)."""
    out = []
    for title, ylabel, keys in CURVES:
        hline = _hline_for(keys[0][0])
        if keys[0][0] == "d_real" and _scores(run):
            title, ylabel, keys = SCORE_CURVE
            hline = None
        lines = [(label, *_series(run.metrics, key)) for key, label in keys]
        lines = [ln for ln in lines if ln[1]]
        if lines:
            out.append((title, curve_png(title, ylabel, lines, hline,
                                         logy=keys[0][0] == "g_grad_norm")))
    return out


def overlay_curves(runs: Sequence[RunData]) -> list[tuple[str, bytes]]:
    """One panel per statistic with a line per run: (title, PNG)."""
    out = []
    for _title, ylabel, keys in CURVES:
        for key, label in keys:
            lines = [(r.name, *_series(r.metrics, key)) for r in runs]
            lines = [ln for ln in lines if ln[1]]
            hline = _hline_for(key)
            if key in ("d_real", "d_fake") and any(_scores(r) for r in runs):
                ylabel, hline = "mean D output (probability, or score for score games)", None
            if lines:
                out.append((label, curve_png(label, ylabel, lines, hline,
                                             logy=key == "g_grad_norm")))
    return out


def pick_grids(grids: Sequence[Path], limit: int = MAX_GRIDS) -> list[Path]:
    """At most `limit` grids, evenly spaced over the run, first and last kept."""
    if len(grids) <= limit:
        return list(grids)
    idx = sorted({round(i * (len(grids) - 1) / (limit - 1)) for i in range(limit)})
    return [grids[i] for i in idx]


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _file_uri(path: Path) -> str:
    mime = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg",
            ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}[path.suffix.lower()]
    return data_uri(path.read_bytes(), mime)


# --------------------------------------------------------------------------- HTML
CSS = """
:root { --fg:#1d2430; --muted:#5b6575; --line:#dde2ea; --bg:#f6f7f9; --card:#fff;
        --accent:#2f6fde; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); line-height:1.45;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 20px 18px 48px; }
h1 { font-size: 1.55rem; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 1.15rem; margin: 30px 0 10px; padding-bottom: 4px;
     border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 14px 0 6px; }
.sub { color: var(--muted); margin: 0; }
.cards { display:grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); gap:10px;
         margin-top: 16px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:8px 12px; }
.card .k { color:var(--muted); font-size:.8rem; }
.card .v { font-size:1.25rem; font-variant-numeric: tabular-nums; }
.hero { display:grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap:16px; }
.grid { display:grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap:12px; }
.plots { display:grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap:12px; }
@media (max-width: 520px) { .plots { grid-template-columns: 1fr; } }
figure { margin:0; background:var(--card); border:1px solid var(--line); border-radius:8px;
         padding:8px; }
figure img { display:block; width:100%; height:auto; }
img.px { image-rendering: pixelated; }
figcaption { color:var(--muted); font-size:.85rem; text-align:center; margin-top:4px; }
.scroll { overflow-x:auto; }
table { border-collapse: collapse; background:var(--card); font-variant-numeric: tabular-nums;
        margin: 4px 0 8px; }
th, td { border:1px solid var(--line); padding:4px 10px; text-align:right; white-space:nowrap; }
th { background:#eef1f6; }
td.t, th.t { text-align:left; }
.muted { color:var(--muted); }
details { margin-top: 8px; }
summary { cursor:pointer; color:var(--accent); }
pre { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px;
      overflow-x:auto; font-size:.85rem; }
footer { color:var(--muted); font-size:.8rem; margin-top:40px; }
"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "",
           text_cols: int = 1) -> str:
    """An HTML table; the first `text_cols` columns are left-aligned text, the rest numbers."""
    head = "".join(f'<th class="{"t" if i < text_cols else ""}">{_e(c)}</th>'
                   for i, c in enumerate(columns))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"t" if i < text_cols else ""}">{_e(fmt(c))}</td>'
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return (f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _img(uri: str, alt: str, caption: str | None = None, pixel: bool = False) -> str:
    cls = ' class="px"' if pixel else ""
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img{cls} src="{uri}" alt="{_e(alt)}">{cap}</figure>'


def _cfg(cfg: dict[str, Any] | None, dotted: str) -> Any:
    node: Any = cfg or {}
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _subtitle(run: RunData) -> str:
    c = run.config
    bits = []
    for key, fmt_ in (("preset", "preset {}"), ("loss.game", "{} game"),
                      ("model.name", "{} model"), ("data.dataset", "on {}")):
        v = _cfg(c, key)
        if v is not None:
            bits.append(fmt_.format(v))
    last = run.last
    if last:
        target = _cfg(c, "train.epochs")
        ep = f"{last.get('epoch')} epochs" + (f" of {target}" if target else "")
        bits.append(ep)
        if _number(last.get("elapsed")) is not None:
            bits.append(f"{_duration(float(last['elapsed']))} of training")
    return " · ".join(bits)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _summary_cards(run: RunData) -> str:
    last = run.last
    if not last:
        return '<p class="muted">No metrics logged yet (metrics.jsonl is missing or empty).</p>'
    cards = [("epoch", last.get("epoch"))]
    cards += [(label, last.get(key)) for key, label in SUMMARY_KEYS if key in last]
    body = "".join(f'<div class="card"><div class="k">{_e(k)}</div>'
                   f'<div class="v">{_e(fmt(v))}</div></div>' for k, v in cards)
    return (f'<div class="cards" id="final-metrics" aria-label="final epoch">{body}</div>'
            f'<p class="muted">Final epoch averages over its iterations.</p>')


def _eval_section(evals: Sequence[EvalResult]) -> str:
    if not evals:
        return ""
    parts = ["<h2>Evaluation</h2>",
             '<p class="muted">The real-data floor is the score of 10,000 real training images '
             "against the MNIST test set: the best a generator can hope for.</p>"]
    for ev in evals:
        rows = [(name, v, ev.floor.get(name)) for name, v in ev.values.items()]
        rows += [(name, None, v) for name, v in ev.floor.items() if name not in ev.values]
        parts.append(f"<h3>{_e(ev.source)}</h3>")
        parts.append(_table(("metric", "value", "real-data floor"), rows))
        if ev.info:
            parts.append(_table(("entry", "value"), list(ev.info.items()), text_cols=2))
    return "\n".join(parts)


def _epoch_table(run: RunData) -> str:
    if not run.metrics:
        return ""
    keys = [k for k, _ in SUMMARY_KEYS if any(k in r for r in run.metrics)]
    labels = ["epoch"] + [dict(SUMMARY_KEYS)[k] for k in keys] + ["seconds"]
    rows = [[r.get("epoch")] + [r.get(k) for k in keys] + [r.get("seconds")]
            for r in run.metrics]
    open_ = " open" if len(rows) <= 12 else ""
    return (f"<h2>Metrics per epoch</h2><details{open_}><summary>{len(rows)} epochs</summary>"
            f'<div id="metrics-table">{_table(labels, rows)}</div></details>')


def _config_section(run: RunData) -> str:
    if run.config is None and run.config_text is None:
        return ""
    parts = ["<h2>Config</h2>", '<div class="grid">']
    cfg = run.config or {}
    top = [(k, v) for k, v in cfg.items() if not isinstance(v, dict)]
    for section, values in cfg.items():
        if isinstance(values, dict):
            parts.append(f"<div><h3>{_e(section)}</h3>"
                         f"{_table(('key', 'value'), list(_flatten(values).items()), text_cols=2)}"
                         "</div>")
    if top:
        parts.append(f"<div><h3>run</h3>{_table(('key', 'value'), top, text_cols=2)}</div>")
    parts.append("</div>")
    if run.config_text:
        parts.append(f"<details><summary>config.yaml</summary><pre>{_e(run.config_text)}"
                     "</pre></details>")
    return "\n".join(parts)


def _grids_section(grids: Sequence[Path], title: str = "Samples over the epochs") -> str:
    if not grids:
        return ""
    shown = pick_grids(grids)
    note = (f'<p class="muted">Showing {len(shown)} of {len(grids)} grids.</p>'
            if len(shown) < len(grids) else "")
    figs = "".join(_img(_file_uri(g), f"samples at epoch {_epoch_of(g)}",
                        f"epoch {_epoch_of(g)}", pixel=True) for g in shown)
    return (f"<h2>{_e(title)}</h2><p class=\"muted\">Every grid shows the same 100 fixed "
            f"latents, so the same cell is the same z at each epoch.</p>{note}"
            f'<div class="grid">{figs}</div>')


def _plots(curves: Sequence[tuple[str, bytes]], title: str) -> str:
    if not curves:
        return ""
    figs = "".join(_img(data_uri(png, "image/png"), t) for t, png in curves)
    return f'<h2>{_e(title)}</h2><div class="plots">{figs}</div>'


def _page(title: str, subtitle: str, body: Sequence[str]) -> str:
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{_e(title)}</h1><p class=\"sub\">{_e(subtitle)}</p></header>"
        + "\n".join(b for b in body if b)
        + f"<footer>Written by gankit {_e(__version__)} on {stamp}. This page is "
        "self-contained: it needs no network.</footer></main></body></html>\n"
    )


def render_run(run: RunData, gif: Path | None = None) -> str:
    """The HTML page of one run."""
    hero = []
    if run.grids:
        last = run.grids[-1]
        hero.append(_img(_file_uri(last), "final samples",
                         f"samples at epoch {_epoch_of(last)}", pixel=True))
    if gif is not None and gif.is_file():
        hero.append(_img(_file_uri(gif), "training progress",
                         "training progress (animated)", pixel=True))
    body = [
        f'<h2>Samples</h2><div class="hero">{"".join(hero)}</div>' if hero else "",
        _summary_cards(run),
        _eval_section(run.evals),
        _plots(run_curves(run), "Training curves"),
        _grids_section(run.grids),
        _epoch_table(run),
        _config_section(run),
    ]
    return _page(f"gankit run {run.name}", _subtitle(run), body)


def _config_diff(runs: Sequence[RunData]) -> str:
    flat = [_flatten(r.config or {}) for r in runs]
    keys = sorted({k for f in flat for k in f})
    differ = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1]
    if not differ:
        return ""
    rows = [[r.name] + [f.get(k) for k in differ] for r, f in zip(runs, flat, strict=True)]
    return "<h2>What differs</h2>" + _table(["run"] + differ, rows, text_cols=len(differ) + 1)


def render_comparison(path: Path, runs: Sequence[RunData]) -> str:
    """The HTML page of a comparison folder."""
    parts = []
    for name, rows in read_tables(path):
        cols = list(dict.fromkeys(k for r in rows for k in r))
        parts.append(f"<h3>{_e(name)}</h3>" + _table(cols, [[r.get(c) for c in cols]
                                                            for r in rows]))
    tables = ("<h2>Comparison table</h2>" + "".join(parts)) if parts else ""
    keys = [k for k, _ in SUMMARY_KEYS if any(k in r.last for r in runs)]
    ev_names = list(dict.fromkeys(n for r in runs for ev in r.evals for n in ev.values))
    rows = []
    for r in runs:
        ev = {n: v for e in r.evals for n, v in e.values.items()}
        rows.append([r.name, _cfg(r.config, "loss.game"), r.last.get("epoch")]
                    + [r.last.get(k) for k in keys] + [ev.get(n) for n in ev_names])
    final = ("<h2>Final epoch, side by side</h2>"
             + _table(["run", "game", "epoch"] + [dict(SUMMARY_KEYS)[k] for k in keys]
                      + ev_names, rows, text_cols=2))
    last_grids = "".join(_img(_file_uri(r.grids[-1]), f"{r.name} final samples",
                              f"{r.name}, epoch {_epoch_of(r.grids[-1])}", pixel=True)
                         for r in runs if r.grids)
    body = [
        tables,
        final,
        _config_diff(runs),
        f'<h2>Final samples</h2><div class="grid">{last_grids}</div>' if last_grids else "",
        _plots(overlay_curves(runs), "Training curves, overlaid"),
    ]
    return _page(f"gankit comparison {path.resolve().name}",
                 f"{len(runs)} runs: " + ", ".join(r.name for r in runs), body)


def write_report(path: str | Path, out: str | Path | None = None,
                 gif: bool = True) -> Path:
    """Write the report of a run or comparison folder (default `PATH/report.html`).

    For a run with epoch grids, also writes `PATH/progress.gif` (when `gif`) and embeds it.
    """
    from gankit.animate import progress_gif

    p = Path(path)
    if not p.is_dir():
        raise GankitError(f"run folder {str(p)!r} does not exist; pass a folder written by "
                          "gankit train or gankit compare")
    target = Path(out) if out is not None else p / "report.html"
    runs = sub_runs(p)
    if runs and not is_run_dir(p):
        page = render_comparison(p, [read_run(r) for r in runs])
    elif is_run_dir(p):
        run = read_run(p)
        gif_path = None
        if gif and run.grids:
            gif_path = progress_gif(pick_grids(run.grids, 60), p / "progress.gif")
        page = render_run(run, gif_path)
    else:
        raise GankitError(f"{str(p)!r} holds no metrics.jsonl, config.yaml or run folders; "
                          "pass a folder written by gankit train or gankit compare")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, page)
    except OSError as err:
        raise GankitError(f"cannot write report {str(target)!r}: {err.strerror or err}; "
                          "choose another --out") from None
    return target


def try_write_report(path: str | Path, log: Callable[[str], None] = print) -> Path | None:
    """`write_report` for the end of `train` / `compare`: a failure is a warning, not an error."""
    try:
        out = write_report(path)
    except Exception as err:  # noqa: BLE001 - the run itself succeeded; never fail it here
        log(f"warning: could not write the report of {path}: {type(err).__name__}: {err}; "
            f"try `gankit report {path}`")
        return None
    log(f"report: {out}")
    return out
