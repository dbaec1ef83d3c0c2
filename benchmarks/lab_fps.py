"""Frames per second of `gankit lab`: three panels of a 2-D toy, one iteration a frame.

Run:  python benchmarks/lab_fps.py                 (both measurements, writes the results page)
      python benchmarks/lab_fps.py --seconds 20 --no-browser --out FILE.md

Not part of the test suite. What it measures, in this one run:
- server frames/s: a lab session (the lab's default config: ring2d, z of 2, 64 x 64 MLPs,
  batch 64) advanced `speed` iterations a frame and its frame computed and encoded to the
  JSON the page receives, in the three views of three panels: the three games (three serial
  trainers) and three seeds of one game (the batched trainer); median of rounds, the views
  alternating round by round so a busy machine slows them alike;
- page frames/s: the real server (uvicorn, websocket) and the real page in headless
  Chromium, playing the three-games view for `--seconds`: frames the page received and
  drew, and its drawing time per frame. The browser shares the CPU cores with the server.

The CPU kind, core count, torch threads and the load average (before and after) are
written beside the figures: on a shared machine the load says how much of it was ours.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from gankit.lab.engine import LabSession
from gankit.runtime.cpu import cpu_kind, cpu_summary

ROOT = Path(__file__).resolve().parents[1]


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def server_fps(mode: str, frames: int, speed: int) -> tuple[float, float]:
    """(frames per wall second, frames per CPU second of this process) of one session:
    `speed` iterations + the frame + its JSON each."""
    s = LabSession(mode=mode, seeds=3)
    for _ in range(3):  # warm-up
        s.step("iteration")
        json.dumps(s.frame())
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(frames):
        for _ in range(speed):
            s.step("iteration")
        json.dumps(s.frame())
    return frames / (time.perf_counter() - start), frames / (time.process_time() - cpu)


def page_fps(seconds: float) -> dict[str, float]:
    """Play the three-games view in headless Chromium; the page's frames a second."""
    sys.path.insert(0, str(ROOT / "tests" / "report"))
    from chromium import Chromium, find_chromium

    from gankit.lab.server import LabServer

    if find_chromium() is None:
        raise SystemExit("chromium is not installed (scripts/install-browser.sh); "
                         "use --no-browser")
    srv = LabServer(0, lambda: LabSession(mode="games")).start()
    try:
        with Chromium() as browser:
            page = browser.open(srv.url, width=1400, height=1200)
            while not page.evaluate("window.lab.frames"):
                time.sleep(0.1)
            page.evaluate("document.getElementById('play').click()")
            time.sleep(2.0)  # warm-up
            f0, r0, i0 = page.evaluate("[window.lab.frames, window.lab.renderTotal || 0, "
                                       "window.lab.iteration]")
            t0 = time.perf_counter()
            time.sleep(seconds)
            f1, r1, i1 = page.evaluate("[window.lab.frames, window.lab.renderTotal || 0, "
                                       "window.lab.iteration]")
            t1 = time.perf_counter()
            page.evaluate("document.getElementById('play').click()")
            errors = page.errors
    finally:
        srv.stop()
    n = max(f1 - f0, 1)
    return {"fps": (f1 - f0) / (t1 - t0), "render_ms": (r1 - r0) / n,
            "iterations_per_frame": (i1 - i0) / n, "errors": len(errors)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=60, help="frames per round (server)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--speed", type=int, default=1, help="iterations per frame")
    p.add_argument("--seconds", type=float, default=10.0, help="page measurement length")
    p.add_argument("--no-browser", action="store_true", help="server frames/s only")
    p.add_argument("--out", help="results page (default benchmarks/results/lab-fps-<cpu>.md)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    before = load()
    runs: dict[str, list[tuple[float, float]]] = {"games": [], "seeds": []}
    for _ in range(args.rounds):
        for mode in runs:
            runs[mode].append(server_fps(mode, args.frames, args.speed))
    page = None if args.no_browser else page_fps(args.seconds)
    after = load()
    cpu = cpu_summary()
    lines = [
        "# gankit lab: frames per second, three panels of a 2-D toy",
        "",
        f"CPU: {cpu}; {os.cpu_count()} cores visible; torch {torch.__version__}, 1 thread.",
        f"Load average (1, 5, 15 min) before: {before}; after: {after}. "
        "The machine was shared with other jobs: a load above the core count means the "
        "figures are lower than an idle machine gives.",
        f"Command: `python benchmarks/lab_fps.py --frames {args.frames} --rounds {args.rounds} "
        f"--speed {args.speed} --seconds {args.seconds:g}`",
        "",
        "| what | frames/s (wall clock) | frames per CPU second | iterations/frame |",
        "| --- | --- | --- | --- |",
    ]
    for mode, label in (("games", "server: three games (3 serial trainers)"),
                        ("seeds", "server: three seeds of one game (batched trainer)")):
        wall, cpu_fps = [r[0] for r in runs[mode]], [r[1] for r in runs[mode]]
        lines.append(f"| {label} | {statistics.median(wall):.1f} (rounds: "
                     f"{', '.join(f'{f:.1f}' for f in wall)}) | {statistics.median(cpu_fps):.1f} "
                     f"| {args.speed} |")
    if page is not None:
        lines.append(f"| page in headless Chromium, three games, websocket (drawing "
                     f"{page['render_ms']:.1f} ms a frame; {page['errors']} page errors) | "
                     f"{page['fps']:.1f} | - | {page['iterations_per_frame']:.2f} |")
    lines += ["", "Server frames/s: `speed` training iterations on every panel, then the "
              "frame's views (G on 256 display latents and a 13 x 13 latent grid, D on a "
              "40 x 40 grid, the gradient arrows) encoded as the JSON the page receives. "
              "Frames per CPU second: the same frames over the CPU time the server process used, "
              "what one free core would give (wall clock = CPU time on an idle machine). "
              "Page frames/s: frames the page received and drew while playing; the server "
              "waits when two frames are unacknowledged, so it is the slower of the two, and "
              "the browser draws on the same cores."]
    text = "\n".join(lines) + "\n"
    print(text)
    slug = cpu_kind().lower().replace(" ", "-")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"lab-fps-{slug}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
