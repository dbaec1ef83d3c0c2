"""A tiny headless-Chromium driver for tests: the DevTools protocol over a pipe, stdlib only.

Chromium started with `--remote-debugging-pipe` reads protocol commands on fd 3 and writes
replies and events on fd 4, each message JSON ended by a NUL byte. No websocket, no
Playwright, nothing downloaded: it needs only the system's `chromium` (Debian package).

    with Chromium() as browser:
        page = browser.open("file:///.../report.html", width=1280, height=800)
        print(page.errors, page.evaluate("document.title"))
        page.screenshot("shot.png")

Run as a script to screenshot a page: `python tests/chromium.py PAGE.html OUT.png [WIDTH]`.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--hide-scrollbars",
         "--mute-audio", "--remote-debugging-pipe")


def find_chromium() -> str | None:
    """Path of a Chromium binary ($CHROMIUM, /usr/bin/chromium, or on PATH), or None."""
    for cand in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


class ProtocolError(RuntimeError):
    pass


def _high_fd(fd: int) -> int:
    """A duplicate of `fd` numbered 10 or more (the original is closed)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class Chromium:
    """One headless Chromium process with a fresh profile, driven over the pipe."""

    def __init__(self, binary: str | None = None, timeout: float = 60.0) -> None:
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise FileNotFoundError("chromium is not installed (scripts/install-browser.sh)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="gankit-chromium-")
        to_r, self._w = os.pipe()  # we write commands, Chromium reads fd 3
        self._r, from_w = os.pipe()  # Chromium writes fd 4, we read
        # Move the child's ends above 9 so bash can put them on 3 and 4 without clobbering.
        to_r, from_w = (_high_fd(to_r), _high_fd(from_w))
        shell = f'exec "$0" "$@" 3<&{to_r} 4>&{from_w} {to_r}<&- {from_w}>&-'
        self.log = open(Path(self.profile) / "stderr.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["bash", "-c", shell, self.binary, *FLAGS, f"--user-data-dir={self.profile}",
             "about:blank"],
            pass_fds=(to_r, from_w), stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=self.log)
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    # ------------------------------------------------------------ protocol
    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise ProtocolError(f"chromium exited (status {self.proc.poll()}); "
                                        f"log: {Path(self.profile) / 'stderr.log'}")
                self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        """Send one command and wait for its result; events met meanwhile are kept."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise ProtocolError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, session: str | None = None) -> dict[str, Any]:
        """Wait for an event (one already received counts)."""
        deadline = time.monotonic() + self.timeout
        for ev in self.events:
            if ev.get("method") == method and ev.get("sessionId", session) == session:
                return ev
        while True:
            ev = self._read(deadline)
            self.events.append(ev)
            if ev.get("method") == method and ev.get("sessionId", session) == session:
                return ev

    # ------------------------------------------------------------ pages
    def open(self, url: str, width: int = 1280, height: int = 800) -> Page:
        """A new tab at `url`, loaded (the load event has fired)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                  session=session)
        page = Page(self, session)
        self.events.clear()
        nav = self.send("Page.navigate", {"url": url}, session=session)
        if nav.get("errorText"):
            raise ProtocolError(f"cannot open {url}: {nav['errorText']}")
        self.wait_event("Page.loadEventFired", session)
        return page

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close")
                except (ProtocolError, TimeoutError, OSError):
                    pass
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
        finally:
            for fd in (self._r, self._w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One loaded tab: evaluate JavaScript, list errors and requests, take screenshots."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    def _events(self, method: str) -> list[dict[str, Any]]:
        return [e["params"] for e in self.browser.events
                if e.get("method") == method and e.get("sessionId") == self.session]

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression (promises awaited)."""
        res = self.browser.send("Runtime.evaluate", {"expression": expression,
                                                     "returnByValue": True,
                                                     "awaitPromise": True},
                                session=self.session)
        if "exceptionDetails" in res:
            raise ProtocolError(f"{expression[:60]}...: {res['exceptionDetails']}")
        return res["result"].get("value")

    @property
    def errors(self) -> list[str]:
        """Script exceptions, console errors, log errors and failed loads so far."""
        out = [f"exception: {_exception_text(e['exceptionDetails'])}"
               for e in self._events("Runtime.exceptionThrown")]
        out += [f"console.error: {e.get('args')}" for e in self._events("Runtime.consoleAPICalled")
                if e.get("type") == "error"]
        out += [f"log {e['entry'].get('source')}: {e['entry'].get('text')} "
                f"{e['entry'].get('url', '')}" for e in self._events("Log.entryAdded")
                if e["entry"].get("level") == "error"]
        out += [f"failed load: {e.get('errorText')} ({e.get('type')})"
                for e in self._events("Network.loadingFailed")]
        return out

    @property
    def requests(self) -> list[str]:
        """URLs the page asked for (data: URIs included)."""
        return [e["request"]["url"] for e in self._events("Network.requestWillBeSent")]

    def screenshot(self, path: str | Path, full_page: bool = True,
                   max_height: int = 8000) -> Path:
        """Write a PNG of the viewport, or of the whole page (up to `max_height` px)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.browser.send("Page.getLayoutMetrics",
                                     session=self.session)["cssContentSize"]
            params.update(captureBeyondViewport=True, clip={
                "x": 0, "y": 0, "width": size["width"],
                "height": min(size["height"], max_height), "scale": 1})
        data = self.browser.send("Page.captureScreenshot", params, session=self.session)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


def _exception_text(details: dict[str, Any]) -> str:
    exc = details.get("exception") or {}
    return str(exc.get("description") or details.get("text"))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python tests/chromium.py PAGE.html OUT.png [WIDTH [HEIGHT]]",
              file=sys.stderr)
        return 2
    page_path, out = Path(argv[0]).resolve(), Path(argv[1])
    width = int(argv[2]) if len(argv) > 2 else 1280
    height = int(argv[3]) if len(argv) > 3 else 0
    with Chromium() as browser:
        page = browser.open(page_path.as_uri(), width=width, height=height or 800)
        page.screenshot(out, full_page=not height)
        for err in page.errors:
            print("page error:", err, file=sys.stderr)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
