"""Screenshots of `gankit lab` in headless Chromium (not a test): the three-games view
mid-training, the seeds view, the 1-D Gaussian, the MNIST view and the Chinese page.

Run:  python tests/lab/screenshots.py OUT_DIR [ITERATIONS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "report"))

from chromium import Chromium  # noqa: E402

from gankit.lab.engine import LabSession  # noqa: E402
from gankit.lab.server import LabServer  # noqa: E402


def play_to(page, iterations: int) -> None:
    page.evaluate("document.getElementById('speed').value = '10';"
                  "document.getElementById('speed').dispatchEvent(new Event('change'))")
    page.evaluate("document.getElementById('play').click()")
    while page.evaluate("window.lab.iteration || 0") < iterations:
        time.sleep(0.5)
    page.evaluate("document.getElementById('play').click()")
    time.sleep(1.0)


def shoot(out: Path, name: str, mode: str, iterations: int, setup: str = "") -> Path:
    srv = LabServer(0, lambda: LabSession(mode=mode)).start()
    try:
        with Chromium() as browser:
            page = browser.open(srv.url, width=1400, height=1250)
            while not page.evaluate("window.lab.frames"):
                time.sleep(0.1)
            if setup:
                page.evaluate(setup)
                time.sleep(2.0)
            play_to(page, iterations)
            path = page.screenshot(out / f"lab-{name}.png")
            if page.errors:
                print("page errors:", page.errors, file=sys.stderr)
            return path
    finally:
        srv.stop()


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path(".")
    iterations = int(argv[1]) if len(argv) > 1 else 600
    select = ("(() => {{ const s = document.getElementById('{id}'); s.value = '{v}'; "
              "s.dispatchEvent(new Event('change')); }})()")
    print(shoot(out, "three-games", "games", iterations))
    print(shoot(out, "seeds", "seeds", iterations))
    print(shoot(out, "gaussian1d", "games", iterations // 2,
                select.format(id="data", v="gaussian1d")))
    print(shoot(out, "mnist", "mnist", iterations))
    print(shoot(out, "zh", "games", iterations // 4, "document.getElementById('lang').click()"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
