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

import datetime as _dt
import html
import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gankit import __version__
from gankit.errors import GankitError
from gankit.fileio import write_text_atomic
from gankit.report.figures import data_uri, file_uri, fmt, overlay_curves, pick_grids, run_curves
from gankit.report.read import (
    EvalResult,
    RunData,
    as_number,
    epoch_of,
    flatten,
    is_run_dir,
    read_run,
    read_tables,
    sub_runs,
)
from gankit.stats import BY_KEY

SUMMARY_KEYS: tuple[tuple[str, str], ...] = tuple(
    (key, BY_KEY[key].label) for key in ("loss_d", "loss_g", "d_real", "d_fake", "js_hat",
                                         "g_grad_norm", "dj_dl", "images_per_s"))
"""Per-epoch record keys shown in the summary and per-epoch tables, with their labels."""



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
        n = last.get("epoch")
        ep = f"{n} epoch{'' if n == 1 else 's'}" + (f" of {target}" if target else "")
        bits.append(ep)
        if as_number(last.get("elapsed")) is not None:
            bits.append(f"{_duration(float(last['elapsed']))} of training")
    used = [str(_cfg(c, k)) for k in ("device_used", "precision_used") if _cfg(c, k)]
    if used:
        bits.append("on " + " ".join(used))
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
                         f"{_table(('key', 'value'), list(flatten(values).items()), text_cols=2)}"
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
    figs = "".join(_img(file_uri(g), f"samples at epoch {epoch_of(g)}",
                        f"epoch {epoch_of(g)}", pixel=True) for g in shown)
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


ALARM_TEXT = {
    "d_wins": "D is winning (mean D(G(z)) below 0.05)",
    "mode_collapse": "mode collapse (few classes or modes, or little diversity)",
    "stalled": "G has stalled (its samples stopped moving)",
    "dead": "the run is dead: D wins and G will not recover (not worth resuming or sampling)",
    "narrow_data": "the training data itself holds few of the digits",
}
"""How the report names the health alarms of gankit.runs.health."""


def _health_section(run: RunData) -> str:
    """The epochs whose health checks raised an alarm (nothing when none did)."""
    rows = []
    for r in run.metrics:
        alarms = r.get("alarms")
        if isinstance(alarms, list) and alarms:
            rows.append([r.get("epoch"), "; ".join(ALARM_TEXT.get(str(a), str(a))
                                                     for a in alarms)])
    if not rows:
        checked = any("alarms" in r for r in run.metrics)
        return ('<h2>Health</h2><p>No alarm: D never won, no mode collapse, G kept moving '
                '(gankit.runs.health).</p>') if checked else ""
    return ('<h2>Health: alarms</h2><p class="warn">The health checks flagged these epochs '
            '(see the training log for the numbers and what to try).</p>'
            + _table(["epoch", "alarm"], rows, text_cols=2))


def render_run(run: RunData, gif: Path | None = None) -> str:
    """The HTML page of one run."""
    hero = []
    if run.grids:
        last = run.grids[-1]
        hero.append(_img(file_uri(last), "final samples",
                         f"samples at epoch {epoch_of(last)}", pixel=True))
    if gif is not None and gif.is_file():
        hero.append(_img(file_uri(gif), "training progress",
                         "training progress (animated)", pixel=True))
    body = [
        f'<h2>Samples</h2><div class="hero">{"".join(hero)}</div>' if hero else "",
        _health_section(run),
        _summary_cards(run),
        _eval_section(run.evals),
        _plots(run_curves(run), "Training curves"),
        _grids_section(run.grids),
        _epoch_table(run),
        _config_section(run),
    ]
    return _page(f"gankit run {run.name}", _subtitle(run), body)


def _config_diff(runs: Sequence[RunData]) -> str:
    flat = [flatten(r.config or {}) for r in runs]
    keys = sorted({k for f in flat for k in f})
    differ = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1]
    if not differ:
        return ""
    rows = [[r.name] + [f.get(k) for k in differ] for r, f in zip(runs, flat, strict=True)]
    return "<h2>What differs</h2>" + _table(["run"] + differ, rows, text_cols=len(differ) + 1)


COMPARE_FIGURES = (
    ("samples.png", "final samples: one row per game, one column per seed"),
    ("curves.png", "training curves of every run, one colour per game"),
)
"""Figures `gankit compare` writes beside its table, embedded when present."""


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
    last_grids = "".join(_img(file_uri(r.grids[-1]), f"{r.name} final samples",
                              f"{r.name}, epoch {epoch_of(r.grids[-1])}", pixel=True)
                         for r in runs if r.grids)
    figures = "".join(
        _img(file_uri(path / name), caption, caption)
        for name, caption in COMPARE_FIGURES if (path / name).is_file())
    body = [
        tables,
        f'<h2>Side by side</h2><div class="hero">{figures}</div>' if figures else "",
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

    For a run with epoch grids, also writes `PATH/progress.gif` (when `gif`) and embeds it;
    a report written outside the run folder (`out`) embeds the GIF and writes nothing there.
    """
    from gankit.viz.animate import progress_gif

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
        inside = out is None or target.resolve().parent == p.resolve()
        with tempfile.TemporaryDirectory() as tmp:  # a report written elsewhere writes
            gif_path = None                         # nothing into the run (maybe read-only)
            if gif and run.grids:
                gif_path = progress_gif(pick_grids(run.grids, 60),
                                        (p if inside else Path(tmp)) / "progress.gif")
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
