"""The health checks (gankit.runs.health) over a matrix of runs, judged by the evaluation.

Every preset (seed, default on MNIST; toy, toy-ring, toy-grid, toy-grid-noise) x seeds x the
games, each epoch checked by the run's own health monitor (train.on_collapse=warn), plus runs
built to fail: the maximum-likelihood game on MNIST, D's learning rate x 50, G's / 100, data of
one class (MNIST's ones), a G that ignores z (constant). Per run and epoch the table shows the
alarms beside what the evaluation sees: MNIST, FID of `--eval-n` samples against the test set
(gankit's extractor; the scale changes with the extractor, only its trend is read), the
classes the classifier is sure of and the share read as no digit; toy sets, modes covered and
the share of samples on a mode. The goals: no alarm in any epoch of a run the evaluation calls
healthy, and every run built to fail flagged in the epoch the evaluation shows it failing.

    python benchmarks/health_matrix.py                       # everything (hours on 1 thread)
    python benchmarks/health_matrix.py --groups mnist fail --mnist-epochs 2
    python benchmarks/health_matrix.py --groups toy --toy-grid-noise-epochs 100

A run healthy by the evaluation: MNIST, its FID falls from the first epoch to the last
(the long presets are cut to --mnist-epochs, so "all classes" cannot be asked of them yet);
toy, it ends with at least half of the modes covered (fewer: the evaluation itself calls it
collapsed, and alarms there are right). A run built to fail fails, by the evaluation, in the
first epoch where D(G(z)) < 0.05, its classes (sure digits) fall to at most one while most
samples read as digits, its FID rises, or (constant G, one-class data) from the start.
Results: benchmarks/results/health-matrix-<cpu kind>.{md,json} (or --out).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from gankit.config import apply_overrides, from_preset  # noqa: E402
from gankit.runtime.cpu import cpu_kind, cpu_summary  # noqa: E402

GAMES = ("non-saturating", "minimax", "maximum-likelihood")
TOY_PRESETS = ("toy", "toy-ring", "toy-grid", "toy-grid-noise")
D_WINS = 0.05


def _runs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The matrix: name, preset, overrides, epochs, kind (healthy | fail), extra set-up."""
    runs = []
    mnist = [{"name": f"{preset}-{game}-s{seed}", "preset": preset,
              "set": {"loss.game": game, "train.seed": seed},
              "epochs": args.mnist_epochs, "kind": "healthy"}
             # the maximum-likelihood game on MNIST is a run built to fail (below)
             for game in ("non-saturating", "minimax") for preset in ("seed", "default")
             for seed in args.seeds] if "mnist" in args.groups else []
    runs += [r for r in mnist if "non-saturating" in r["name"]]
    if "toy" in args.groups:
        for preset in TOY_PRESETS:
            epochs = args.toy_grid_noise_epochs if preset == "toy-grid-noise" else None
            for seed in args.seeds:
                for game in GAMES:
                    runs.append({"name": f"{preset}-{game}-s{seed}", "preset": preset,
                                 "set": {"loss.game": game, "train.seed": seed},
                                 "epochs": epochs, "kind": "healthy"})
    if "fail" in args.groups:
        lr = from_preset("default").train
        for seed in args.seeds:
            runs.append({"name": f"default-maximum-likelihood-s{seed}", "preset": "default",
                         "set": {"loss.game": "maximum-likelihood", "train.seed": seed},
                         "epochs": args.mnist_epochs, "kind": "fail",
                         "why": "the maximum-likelihood game on MNIST"})
        fails = [
            ("default-lr_d-x50", {"train.lr_d": lr.lr_d * 50}, None, "D's learning rate x 50"),
            ("default-lr_g-div100", {"train.lr_g": lr.lr_g / 100}, None,
             "G's learning rate / 100"),
            ("default-one-class", {"data.dataset": "idx"}, "one_class",
             "data of one class (MNIST's ones)"),
            ("default-constant-g", {}, "constant_g", "a G that ignores z"),
        ]
        for name, sets, setup, why in fails:
            runs.append({"name": name, "preset": "default", "set": {"train.seed": 0, **sets},
                         "epochs": args.mnist_epochs, "kind": "fail", "setup": setup,
                         "why": why})
    runs += [r for r in mnist if "non-saturating" not in r["name"]]
    return runs


class ZeroZ(nn.Module):
    """A G that ignores z: the wrapped G sees z * 0, so it can learn one image only."""

    def __init__(self, g: nn.Module) -> None:
        super().__init__()
        self.g = g
        self.z_dim = getattr(g, "z_dim", None)

    def forward(self, z: torch.Tensor, *rest: Any) -> torch.Tensor:
        return self.g(z * 0, *rest)


@contextlib.contextmanager
def constant_g(on: bool) -> Iterator[None]:
    """While on, every G gankit builds (to train, or from a checkpoint) ignores z (ZeroZ)."""
    import gankit.core.networks
    import gankit.core.state
    import gankit.runs.checkpoint

    modules = (gankit.core.networks, gankit.core.state, gankit.runs.checkpoint)
    build = gankit.core.networks.build_models
    if on:
        def constant(*a: Any, **k: Any) -> tuple[nn.Module, nn.Module]:
            g, d = build(*a, **k)
            return ZeroZ(g), d

        for m in modules:
            m.build_models = constant  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for m in modules:
            m.build_models = build  # type: ignore[attr-defined]


def _one_class_folder(root: Path) -> Path:
    """An IDX folder of MNIST's training ones."""
    from gankit.data.idx import write_idx
    from gankit.data.mnist import load_mnist

    folder = root / "mnist-ones"
    if not (folder / "train-images-idx3-ubyte").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        x, y = load_mnist("train")
        write_idx(folder / "train-images-idx3-ubyte", x[y == 1])
        write_idx(folder / "train-labels-idx1-ubyte", y[y == 1])
    return folder


def train_one(spec: dict[str, Any], root: Path) -> tuple[Path, list[str], float]:
    """Train a run of the matrix; (run folder, its log lines, seconds)."""
    from gankit.runs.loop import train

    toy = spec["preset"].startswith("toy")
    sets = {**spec["set"], "train.progress": False, "train.threads": 1,
            "train.on_collapse": "warn", "train.sample_every": 1000,
            "train.checkpoint_every": 1000 if toy else 1, "train.keep_checkpoints": 1000}
    if spec["epochs"]:
        sets["train.epochs"] = spec["epochs"]
    if spec.get("setup") == "one_class":
        sets["data.data_dir"] = str(_one_class_folder(root))
    cfg = apply_overrides(from_preset(spec["preset"]), sets)
    out = root / spec["name"]
    if out.exists():  # a run cut short earlier: start it again
        shutil.rmtree(out)
    lines: list[str] = []
    start = time.perf_counter()
    with constant_g(spec.get("setup") == "constant_g"):
        train(cfg, out, log=lines.append)
    return out, lines, time.perf_counter() - start


def replay(out: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The current health checks over a finished MNIST run with a checkpoint per epoch: its
    records with the alarms the checks raise now (the probe reads the checkpoint's sampler, as
    in training), and their lines."""
    import warnings

    from gankit.data import load_dataset
    from gankit.runs.checkpoint import list_checkpoints, load_generator
    from gankit.runs.health import HealthMonitor

    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    monitor, lines = None, []
    for ckpt in list_checkpoints(out):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g, cfg = load_generator(ckpt)
        if monitor is None:
            data = load_dataset(cfg.data, log=lambda _: None)
            monitor = HealthMonitor(cfg, data.samples, probabilistic=True)
        record = records[int(ckpt.stem.split("_")[1]) - 1]
        record.pop("alarms", None)
        lines += [a.message for a in monitor.check(g, record)]
    return records, lines


def evaluate_epochs(out: Path, n: int, constant: bool) -> dict[int, dict[str, float]]:
    """Per epoch of an MNIST run: FID of n samples, classes (sure digits), not-digit share."""
    import warnings

    from gankit.metrics import scores
    from gankit.metrics.evaluate import load_context, sample_generator
    from gankit.metrics.features import extract
    from gankit.runs.checkpoint import list_checkpoints, load_generator

    ctx = load_context("cpu")
    result = {}
    for ckpt in list_checkpoints(out):
        epoch = int(ckpt.stem.split("_")[1])
        with warnings.catch_warnings(), constant_g(constant):
            warnings.simplefilter("ignore")
            g, cfg = load_generator(ckpt)
        images = sample_generator(g, cfg.model.z_dim, n, seed=0)
        feats, probs = extract(ctx.extractor, images)
        cov = scores.mode_coverage(probs)
        result[epoch] = {"fid": scores.fid(feats, ctx.real_feats),
                         "classes": cov.classes_covered, "not_digit": cov.not_digit}
    return result


def judge(spec: dict[str, Any], records: list[dict[str, Any]],
          evals: dict[int, dict[str, float]]) -> dict[str, Any]:
    """The run's verdict: healthy runs must have no alarm; failing ones an alarm in time."""
    flagged = [r["epoch"] for r in records if r.get("alarms")]
    toy = spec["preset"].startswith("toy")
    if toy:
        last = records[-1]
        healthy = last.get("modes_covered", 0) >= last.get("num_modes", 1) / 2
    else:
        fids = [evals[e]["fid"] for e in sorted(evals)]
        healthy = len(fids) >= 2 and fids[-1] < fids[0]
    out: dict[str, Any] = {"healthy_by_eval": healthy, "flagged": flagged}
    if spec["kind"] == "healthy":
        out["verdict"] = ("FALSE ALARM" if healthy and flagged else "ok" if healthy
                          else "unhealthy by the evaluation (alarms allowed)")
        return out
    fails = None
    prev_fid = None
    for r in records:
        e = r["epoch"]
        ev = evals.get(e, {})
        if (spec.get("setup") in ("constant_g", "one_class") or r.get("d_fake", 1) < D_WINS
                or (ev.get("classes", 10) <= 1 and ev.get("not_digit", 1) < 0.5)
                or (prev_fid is not None and ev.get("fid", 0) > prev_fid)):
            fails = e
            break
        prev_fid = ev.get("fid", prev_fid)
    out["fails_at"] = fails
    first = flagged[0] if flagged else None
    out["verdict"] = ("MISSED" if fails is not None and first is None else
                      "ok" if fails is not None and first is not None and first <= fails else
                      "LATE" if fails is not None else
                      "did not fail within the epochs run" + (" (flagged anyway)" if first
                                                              else ""))
    return out


def _cell_epochs(records: list[dict[str, Any]], evals: dict[int, dict[str, float]],
                 toy: bool) -> tuple[str, str]:
    alarms, seen = [], []
    for r in records:
        e = r["epoch"]
        if r.get("alarms"):
            alarms.append(f"{e}: {', '.join(r['alarms'])}")
        if toy:
            if e == 1 or e == records[-1]["epoch"] or r.get("alarms"):
                seen.append(f"{e}: {r.get('modes_covered')}/{r.get('num_modes')} modes, "
                            f"{r.get('hq_share', 0):.2f} on a mode")
        elif e in evals:
            v = evals[e]
            seen.append(f"{e}: FID {v['fid']:.0f}, {v['classes']} cl, "
                        f"{v['not_digit']:.2f} no digit, D(G(z)) {r.get('d_fake', 0):.2f}")
    return ("; ".join(alarms) or "none"), "; ".join(seen)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--groups", nargs="+", default=["mnist", "fail", "toy"],
                   choices=("mnist", "fail", "toy"))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--mnist-epochs", type=int, default=2,
                   help="epochs of each MNIST run (the seed preset has 400, default 12)")
    p.add_argument("--toy-grid-noise-epochs", type=int, default=100,
                   help="epochs of the toy-grid-noise runs (the preset has 200)")
    p.add_argument("--eval-n", type=int, default=2000, help="samples per MNIST evaluation")
    p.add_argument("--only", nargs="*", default=None, help="run names to run (default all)")
    p.add_argument("--runs-dir", default="/tmp/gankit-health-matrix")
    p.add_argument("--out", help="results stem (default benchmarks/results/health-matrix-<cpu>"
                                 "-<groups>; with --merge, health-matrix-<cpu>)")
    p.add_argument("--replay", nargs="+", metavar="RUN",
                   help="judge finished MNIST runs (a checkpoint per epoch) with the current "
                        "checks instead of training")
    p.add_argument("--reuse", action="store_true",
                   help="score runs already trained in --runs-dir instead of training again")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="write one table of these results files (of parts run side by side)")
    args = p.parse_args()
    torch.set_num_threads(1)
    root = Path(args.runs_dir)
    kind = cpu_kind().lower().replace(" ", "-")
    if args.merge:
        parts = [json.loads(Path(f).read_text()) for f in args.merge]
        seen: dict[str, Any] = {}
        for part in parts:
            seen.update({r["name"]: r for r in part["runs"]})
        stem = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / (
            f"health-matrix-{kind}")
        args = argparse.Namespace(**{**parts[0]["args"], "merge": args.merge})
        write(stem, list(seen.values()), args)
        return
    root.mkdir(parents=True, exist_ok=True)
    stem = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / (
        f"health-matrix-{kind}-{'-'.join(args.groups)}")
    results = []
    json_path = stem.with_suffix(".json")
    if json_path.is_file():  # resume: keep the runs already done
        results = json.loads(json_path.read_text())["runs"]
    done = {r["name"] for r in results}
    specs = _runs(args) if not args.replay else [
        {"name": Path(r).name, "preset": "replayed", "set": {}, "epochs": None,
         "kind": "healthy", "path": r} for r in args.replay]
    for spec in specs:
        if spec["name"] in done or (args.only and spec["name"] not in args.only):
            continue
        if args.replay:
            out, seconds = Path(spec["path"]), 0.0
            records, lines = replay(out)
        elif args.reuse and (root / spec["name"] / "report.html").is_file():
            out, lines, seconds = root / spec["name"], [], 0.0  # trained, not yet scored
            records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        else:
            out, lines, seconds = train_one(spec, root)
            records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        toy = spec["preset"].startswith("toy")
        evals = {} if toy else evaluate_epochs(out, args.eval_n,
                                               spec.get("setup") == "constant_g")
        verdict = judge(spec, records, evals)
        alarms, seen = _cell_epochs(records, evals, toy)
        messages = [x for x in lines if x.startswith("epoch ") and ": " in x
                    and not x.split(":")[0].count("/")]
        results.append({**{k: v for k, v in spec.items() if k != "setup"},
                        "setup": spec.get("setup"), "epochs_run": records[-1]["epoch"],
                        "seconds": seconds, "alarms": alarms, "evaluation": seen,
                        "messages": messages, "evals": evals, **verdict})
        print(f"{spec['name']}: {verdict['verdict']} | alarms {alarms} | {seen}", flush=True)
        write(stem, results, args)


def _items(cell: str) -> list[tuple[int, str]]:
    """'1: a; 3: b' -> [(1, 'a'), (3, 'b')] ('none' -> [])."""
    if cell in ("", "none"):
        return []
    out = []
    for item in cell.split("; "):
        epoch, _, text = item.partition(": ")
        out.append((int(epoch), text))
    return out


def _short_alarms(cell: str) -> str:
    """Runs of consecutive epochs with the same alarms as one range: '44-60: d_wins, dead'."""
    groups: list[list[Any]] = []
    for epoch, kinds in _items(cell):
        if groups and groups[-1][2] == kinds and groups[-1][1] == epoch - 1:
            groups[-1][1] = epoch
        else:
            groups.append([epoch, epoch, kinds])
    return "; ".join(f"{a}{f'-{b}' if b > a else ''}: {k}" for a, b, k in groups) or "none"


def _short_eval(cell: str, alarms: str) -> str:
    """The evaluation at the first epoch, the first flagged one and the last."""
    items = _items(cell)
    if len(items) <= 3:
        return cell
    flagged = [e for e, _ in _items(alarms)]
    keep = {items[0][0], items[-1][0], *(flagged[:1])}
    return "; ".join(f"{e}: {t}" for e, t in items if e in keep)


def write(stem: Path, results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """The markdown table and the JSON beside it."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    head = (f"CPU: {cpu_summary()}; 1 thread a run, up to three runs side by side, the machine "
            "shared with other jobs (seconds are not timings). Seeds: as in the run names. "
            f"MNIST runs: {args.mnist_epochs} epochs each (the presets have 400 and 12), "
            f"evaluated after every epoch on {args.eval_n} samples (FID is biased upward "
            f"at that n: read its trend); toy-grid-noise {args.toy_grid_noise_epochs} of 200 "
            "epochs; other toy presets whole.")
    replayed = [r["name"] for r in results if r.get("preset") == "replayed"]
    if replayed:
        head += (f" Replayed ({', '.join(replayed)}): trained before the current checks, judged "
                 "by running them on the run's checkpoint of every epoch (--replay).")
    rows = ["| run | kind | alarms (epoch: kinds) | evaluation by epoch | verdict |",
            "|---|---|---|---|---|"]
    for r in results:
        kind = "preset" if r["kind"] == "healthy" else f"built to fail: {r['why']}"
        verdict = r["verdict"].replace("(alarms are right)", "(alarms allowed)") + (
            f" (fails at {r['fails_at']})" if r.get("fails_at") else "")
        rows.append(f"| {r['name']} | {kind} | {_short_alarms(r['alarms'])} | "
                    f"{_short_eval(r['evaluation'], r['alarms'])} | {verdict} |")
    false_alarms = sum(r["verdict"] == "FALSE ALARM" for r in results)
    fails = [r for r in results if r["kind"] == "fail"]
    caught = sum(r["verdict"] == "ok" for r in fails)
    summary = (f"{len(results)} runs; false alarms in runs healthy by the evaluation: "
               f"{false_alarms}; runs built to fail flagged in their epoch: {caught} of "
               f"{len(fails)}.")
    stem.with_suffix(".md").write_text("\n".join([head, "", summary, "", *rows]) + "\n")
    stem.with_suffix(".json").write_text(json.dumps(
        {"cpu": cpu_summary(), "args": vars(args), "runs": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
