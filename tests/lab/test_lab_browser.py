"""`gankit lab` driven in headless Chromium (the DevTools protocol, tests/report/chromium.py):
the page loads clean, plays, steps D alone (checked on the server's state), switches games,
trains on a drawn distribution, speaks Chinese, and the server refuses a tokenless request."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
sys.path.insert(0, str(Path(__file__).parents[1] / "report"))

from chromium import Chromium, find_chromium  # noqa: E402

from gankit.lab.engine import LabSession, lab_config  # noqa: E402
from gankit.lab.server import LabServer  # noqa: E402

SMALL = {"data.toy_samples": 640, "train.batch_size": 32, "model.g_hidden": [32, 32],
         "model.d_hidden": [32, 32]}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LabServer(0, lambda: LabSession(lab_config(SMALL), mode="games"),
                    tmp_path_factory.mktemp("runs")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def page(server):
    if find_chromium() is None:
        pytest.skip("chromium is not installed: run scripts/install-browser.sh")
    with Chromium() as browser:
        yield browser.open(server.url, width=1400, height=1200)


def wait(page, expression: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.evaluate(expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {expression}")


def until(check, timeout: float = 60.0) -> None:
    """Wait for the server's state to satisfy `check()`."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting for the server"
        time.sleep(0.05)


def frames(page) -> int:
    return page.evaluate("window.lab.frames")


def click(page, element_id: str) -> None:
    page.evaluate(f"document.getElementById({element_id!r}).click()")


def choose(page, element_id: str, value: str) -> None:
    page.evaluate(f"(() => {{ const s = document.getElementById({element_id!r}); "
                  f"s.value = {value!r}; s.dispatchEvent(new Event('change')); }})()")


def session(server) -> LabSession:
    (conn,) = server.app.state.connections
    return conn.session


def test_page_loads_plays_and_steps(page, server) -> None:
    wait(page, "window.lab.frames > 0")
    assert page.errors == []
    assert page.evaluate("document.querySelectorAll('#panels canvas').length") == 3
    assert all(u.startswith(f"http://127.0.0.1:{server.port}/") or u.startswith("data:")
               for u in page.requests)  # nothing from the internet
    # play advances the iteration counter; pause stops it
    click(page, "play")
    wait(page, "Number(document.getElementById('iteration').textContent) >= 3")
    click(page, "play")
    s = session(server)
    conn = next(iter(server.app.state.connections))
    until(lambda: conn.player is None or conn.player.done())
    # one D step: exactly one D update on every panel, G untouched (the server's state)
    before = [s.group.params(k) for k in range(3)]
    it = s.group.iteration
    assert s.pending is None
    click(page, "step-d")
    until(lambda: s.pending is not None)
    assert s.group.iteration == it
    for k in range(3):
        d, g = s.group.params(k)
        assert not (d == before[k][0]).all() and (g == before[k][1]).all()
    click(page, "step-g")  # completes the iteration
    wait(page, f"document.getElementById('iteration').textContent === '{it + 1}'")
    assert s.group.iteration == it + 1 and s.deviation is None and s.pending is None
    assert page.errors == []


def test_switching_the_game_changes_the_cost_curve(page, server) -> None:
    choose(page, "mode", "single")
    wait(page, "window.lab.init.mode === 'single' && window.lab.frame.panels.length === 1")
    wait(page, "window.lab.curveGames && window.lab.curveGames.length === 1")
    assert page.evaluate("window.lab.curveGames") == ["non-saturating"]
    picture = page.evaluate("document.getElementById('chart-costs').toDataURL()")
    choose(page, "game", "minimax")
    wait(page, "window.lab.curveGames[0] === 'minimax'")
    assert page.evaluate("document.getElementById('chart-costs').toDataURL()") != picture
    assert [g.name for g in session(server).group.games] == ["minimax"]
    assert page.errors == []


def test_a_drawn_distribution_trains(page, server) -> None:
    click(page, "draw")
    page.evaluate("""(() => {
      const c = document.getElementById('draw-canvas'), r = c.getBoundingClientRect();
      const at = (f, g) => ({clientX: r.left + f * r.width, clientY: r.top + g * r.height,
                             bubbles: true});
      c.dispatchEvent(new PointerEvent('pointerdown', at(0.2, 0.2)));
      for (let i = 1; i <= 40; i++) {
        c.dispatchEvent(new PointerEvent('pointermove', at(0.2 + i * 0.015, 0.2 + i * 0.012)));
      }
      window.dispatchEvent(new PointerEvent('pointerup', at(0.8, 0.7)));
    })()""")
    assert page.evaluate("window.lab.drawnPoints.length") >= 40
    click(page, "draw-use")
    wait(page, "window.lab.init.data === 'drawn'")
    s = session(server)
    assert s.drawn is not None and s.drawn.shape[0] >= 40
    # the drawing runs from the top left (x < 0, y > 0) towards the bottom right
    assert float(s.drawn[0, 0]) < 0 < float(s.drawn[0, 1])
    before = s.group.params(0)
    click(page, "step-epoch")
    wait(page, "Number(document.getElementById('epoch').textContent) === 1")
    assert s.group.epoch == 1
    after = s.group.params(0)
    assert not (after[0] == before[0]).all() and not (after[1] == before[1]).all()
    assert page.errors == []


def test_language_switch(page) -> None:
    assert page.evaluate("document.getElementById('play').textContent") == "Play"
    click(page, "lang")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.evaluate("document.getElementById('play').textContent") == "运行"
    assert page.evaluate("document.querySelector('[data-i18n=chart_costs]').textContent"
                         ).startswith("笔记中的那张图")
    click(page, "lang")
    assert page.evaluate("document.getElementById('play').textContent") == "Play"
    assert page.errors == []


def test_requests_without_the_token_are_refused(page, server) -> None:
    base = f"http://127.0.0.1:{server.port}"
    for path in ("/", "/static/lab.js", "/?token=wrong"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + path, timeout=10)
        assert err.value.code == 403
    assert page.evaluate("fetch('/static/lab.js').then(r => r.status)") == 403
    assert page.evaluate(f"fetch('/static/lab.js?token={server.token}').then(r => r.status)"
                         ) == 200


def test_leaving_the_page_stops_its_training(page, server) -> None:
    """(Runs last: it navigates the shared page away.)"""
    s = session(server)
    click(page, "play")
    it = s.group.iteration
    until(lambda: s.group.iteration > it + 2)
    page.browser.send("Page.navigate", {"url": "about:blank"}, session=page.session)
    until(lambda: not server.app.state.connections)
    time.sleep(0.3)
    stopped = s.group.iteration
    time.sleep(0.6)
    assert s.group.iteration == stopped
