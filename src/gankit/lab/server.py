"""The lab's web server: a Starlette app served by uvicorn on 127.0.0.1, and its protocol.

Safety: every HTTP request and websocket must carry the session's random token (`?token=`)
and name 127.0.0.1 or localhost as its Host; a request whose Origin is not the page's own is
refused (HTTP 403; a websocket is closed before it is accepted, which uvicorn answers with
403). The page loads only what this server serves (gankit/lab/static).

The websocket protocol, JSON objects with a `type`:
  page -> server: hello | play | pause | step {kind: d|g|iteration|epoch} | reset |
                  set {key, value} | mode {mode, seeds?} | draw {points} | speed {value} |
                  save {panel?} | ack {frame} | status
  server -> page: init {the session's description} | frame {views, stats, counters} |
                  status | saved {path} | error {message}
A message the server cannot read or apply gets an `error` reply and the server serves on.
Each page has its own session; all its training runs on one worker thread, so steps and
settings never interleave. While playing, at most two frames wait for the page's `ack`.
When the websocket closes (the page is closed), playing stops and the session is dropped.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from gankit.errors import GankitError, short
from gankit.lab.engine import LabSession

STATIC = Path(__file__).parent / "static"
ASSETS = {"lab.js": "text/javascript", "lab.css": "text/css", "i18n.js": "text/javascript"}
"""The files the page loads, besides index.html."""
HOSTS = ("127.0.0.1", "localhost")
MAX_MESSAGE = 1 << 20
"""Largest message read from the page (a drawing of many points fits)."""
IN_FLIGHT = 2
"""Frames sent and not yet acknowledged before playing waits for the page."""
MAX_FPS = 30.0
MAX_SPEED = 50


def new_token() -> str:
    """A random URL-safe token (about 190 bits)."""
    return secrets.token_urlsafe(24)


def refusal(scope: dict[str, Any], token: str) -> str | None:
    """Why a request must be refused (host, token, origin), or None."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1")
               for k, v in scope.get("headers", [])}
    host = headers.get("host", "")
    if host.rsplit(":", 1)[0] not in HOSTS:
        return "the lab answers only 127.0.0.1 and localhost"
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    given = (query.get("token") or [""])[0]
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        return "missing or wrong token: open the URL gankit lab printed"
    origin = headers.get("origin")
    if origin is not None and origin != f"http://{host}":
        return f"origin {short(origin, 80)} is not the lab's page"
    return None


class Guard:
    """ASGI middleware: refuse (403) what `refusal` refuses, HTTP and websocket alike."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            reason = refusal(scope, self.token)
            if reason is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008, "reason": reason})
                    return
                await PlainTextResponse(f"403 forbidden: {reason}", 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Connection:
    """One page's websocket: its session, worker thread and playing loop."""

    def __init__(self, ws: WebSocket, factory: Callable[[], LabSession],
                 runs_dir: Path) -> None:
        self.ws, self.factory, self.runs_dir = ws, factory, runs_dir
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gankit-lab")
        self.session: LabSession | None = None
        self.playing = False
        self.player: asyncio.Task | None = None
        self.sent = self.acked = 0
        self.acks = asyncio.Event()
        self.closed = False

    async def run(self, fn: Callable[[], Any]) -> Any:
        """fn() on this page's worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn)

    async def send(self, message: dict[str, Any]) -> None:
        if not self.closed:
            await self.ws.send_text(json.dumps(message, allow_nan=False, default=_plain))

    async def serve(self) -> None:
        self.session = await self.run(self.factory)
        await self.send_init()
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            try:
                text = message.get("text")
                if text is None:
                    raise GankitError("malformed message: the lab reads JSON text, not bytes")
                await self.handle(parse_message(text))
            except GankitError as err:
                await self.send({"type": "error", "message": str(err)})
            except Exception as err:  # noqa: BLE001 - the page hears of it; serving goes on
                await self.send({"type": "error",
                                 "message": f"internal error: {type(err).__name__}: "
                                            f"{short(str(err), 300)}"})

    async def send_init(self) -> None:
        s = self.session
        assert s is not None
        init, frame = await self.run(lambda: (s.describe(), s.frame()))
        await self.send({"type": "init", **init})
        await self.send({"type": "frame", **frame})

    async def send_frame(self) -> None:
        s = self.session
        assert s is not None
        await self.send({"type": "frame", **await self.run(s.frame)})

    async def handle(self, msg: dict[str, Any]) -> None:
        s, kind = self.session, msg["type"]
        assert s is not None
        if kind == "ack":
            self.acked = max(self.acked, _int(msg, "frame", 0, 1 << 40))
            self.acks.set()
        elif kind == "hello":
            await self.send_init()
        elif kind == "play":
            self.playing = True
            if self.player is None or self.player.done():
                self.player = asyncio.create_task(self.play())
        elif kind == "pause":
            self.playing = False
            await self.send({"type": "status", **s.status(), "playing": False})
        elif kind == "step":
            step = _str(msg, "kind")
            await self.run(lambda: s.step(step))
            await self.send_frame()
        elif kind == "reset":
            await self.run(s.reset)
            await self.send_init()
        elif kind == "set":
            key = _str(msg, "key")
            if "value" not in msg:
                raise GankitError("a set message needs a value")
            applied = await self.run(lambda: s.set(key, msg["value"]))
            if applied == "reset":
                await self.send_init()
            await self.send({"type": "status", **s.status(), "applied": applied, "key": key})
        elif kind == "mode":
            mode = _str(msg, "mode")
            seeds = _int(msg, "seeds", 1, 64) if "seeds" in msg else None
            await self.run(lambda: s.set_mode(mode, seeds))
            await self.send_init()
        elif kind == "draw":
            await self.run(lambda: s.draw(msg.get("points")))
            await self.send_init()
        elif kind == "speed":
            s.speed = _int(msg, "value", 1, MAX_SPEED)
        elif kind == "save":
            panel = _int(msg, "panel", 0, 64) if "panel" in msg else 0
            stamp = time.strftime("%Y%m%d-%H%M%S")
            out = self.runs_dir / f"lab-{s.group.games[min(panel, s.group.size - 1)].name}-" \
                                  f"{stamp}-{secrets.token_hex(2)}"
            path = await self.run(lambda: s.save(out, panel))
            await self.send({"type": "saved", "path": str(path),
                             "command": f"gankit train --config {path / 'config.yaml'}"})
        elif kind == "status":
            await self.send({"type": "status", **s.status(), "playing": self.playing})
        else:
            raise GankitError(f"unknown message type {short(kind)}")

    async def play(self) -> None:
        """While playing: `speed` iterations, then a frame; at most MAX_FPS frames a second
        and IN_FLIGHT unacknowledged frames."""
        s = self.session
        assert s is not None

        def advance() -> dict[str, Any]:
            for _ in range(s.speed):
                s.step("iteration")
            return s.frame()

        loop = asyncio.get_running_loop()
        while self.playing and not self.closed:
            if self.sent - self.acked >= IN_FLIGHT:
                self.acks.clear()
                try:
                    await asyncio.wait_for(self.acks.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass
                continue
            start = loop.time()
            try:
                frame = await self.run(advance)
            except Exception as err:  # noqa: BLE001 - stop playing, say why
                self.playing = False
                await self.send({"type": "error", "message": f"training stopped: {err}"})
                break
            self.sent = frame["frame"]
            try:
                await self.send({"type": "frame", **frame, "playing": self.playing})
            except (RuntimeError, WebSocketDisconnect):  # the page went meanwhile
                self.playing = False
                break
            await asyncio.sleep(max(0.0, 1.0 / MAX_FPS - (loop.time() - start)))

    def close(self) -> None:
        """The page is gone: stop playing, drop the work not started."""
        self.closed = True
        self.playing = False
        if self.player is not None:
            self.player.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)


def parse_message(text: str) -> dict[str, Any]:
    """A page message as a dict with a string `type`, or a GankitError saying what is wrong."""
    if len(text) > MAX_MESSAGE:
        raise GankitError(f"message of {len(text)} characters is too long")
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise GankitError(f"malformed message (not JSON): {short(text, 60)}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise GankitError("malformed message: expected an object with a string `type`")
    return msg


def _str(msg: dict[str, Any], key: str) -> str:
    value = msg.get(key)
    if not isinstance(value, str):
        raise GankitError(f"{msg['type']} message needs a string {key}")
    return value


def _int(msg: dict[str, Any], key: str, lo: int, hi: int) -> int:
    value = msg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise GankitError(f"{msg['type']} message needs an integer {key} in {lo}..{hi}, got "
                          f"{short(value)}")
    return value


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def create_app(token: str, factory: Callable[[], LabSession] = LabSession,
               runs_dir: Path = Path("runs")) -> Any:
    """The lab's ASGI app, guarded by `token`; `factory` makes each page's session.
    `app.state.connections` holds the open pages (tests read their sessions)."""
    index = (STATIC / "index.html").read_text(encoding="utf-8")

    async def page(request: Request) -> Response:
        html = index.replace("{{TOKEN}}", token)
        host = request.headers["host"]
        return HTMLResponse(html, headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": f"default-src 'self'; connect-src 'self' ws://{host}; "
                                       "img-src 'self' data:; style-src 'self'; "
                                       "script-src 'self'"})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("not found", 404)
        return FileResponse(STATIC / name, media_type=ASSETS[name],
                            headers={"Cache-Control": "no-store"})

    async def socket_route(ws: WebSocket) -> None:
        await ws.accept()
        conn = Connection(ws, factory, runs_dir)
        app.state.connections.add(conn)
        try:
            await conn.serve()
        except (WebSocketDisconnect, RuntimeError):  # closed, also while sending
            pass
        finally:
            conn.close()
            app.state.connections.discard(conn)

    app = Starlette(routes=[Route("/", page), Route("/static/{name}", asset),
                            WebSocketRoute("/ws", socket_route)])
    app.state.connections = set()
    guarded = Guard(app, token)
    guarded.state = app.state  # type: ignore[attr-defined]
    return guarded


class LabServer:
    """The app served by uvicorn on 127.0.0.1 in a background thread (`start` / `stop`), or
    in the foreground (`serve_forever`)."""

    def __init__(self, port: int = 0, factory: Callable[[], LabSession] = LabSession,
                 runs_dir: Path = Path("runs"), token: str | None = None) -> None:
        import uvicorn

        self.token = token or new_token()
        self.app = create_app(self.token, factory, runs_dir)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(("127.0.0.1", port))
        except OSError as err:
            self.sock.close()
            raise GankitError(f"cannot listen on 127.0.0.1:{port}: {err.strerror or err}; "
                              "choose another --port (0 picks a free one)") from None
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", ws="websockets-sansio",
                                ws_max_size=MAX_MESSAGE, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def serve_forever(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self) -> LabServer:
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the lab server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)
        self.sock.close()
