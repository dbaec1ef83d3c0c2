"""The lab's server (gankit.lab.server): the token, host and origin checks, the websocket
protocol, error replies that keep it serving, and a closed page that stops its training."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx2")

from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from gankit.lab.engine import LabSession, lab_config  # noqa: E402
from gankit.lab.server import create_app, parse_message, refusal  # noqa: E402

TOKEN = "test-token-123"
BASE = "http://127.0.0.1:8765"
WS = "ws://127.0.0.1:8765/ws"
SMALL = {"data.toy_samples": 320, "train.batch_size": 32, "model.g_hidden": [16, 16],
         "model.d_hidden": [16, 16]}


def factory() -> LabSession:
    return LabSession(lab_config(SMALL), mode="games")


@pytest.fixture
def app(tmp_path):
    return create_app(TOKEN, factory, tmp_path / "runs")


@pytest.fixture
def client(app):
    with TestClient(app, base_url=BASE) as c:
        yield c


def receive(ws, kind: str, limit: int = 50) -> dict:
    """The next message of type `kind` (acknowledging frames on the way)."""
    for _ in range(limit):
        msg = json.loads(ws.receive_text())
        if msg["type"] == "frame":
            ws.send_text(json.dumps({"type": "ack", "frame": msg["frame"]}))
        if msg["type"] == kind:
            return msg
    raise AssertionError(f"no {kind} message")


def test_page_needs_the_token(client) -> None:
    assert client.get(f"/?token={TOKEN}").status_code == 200
    assert client.get("/").status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    assert client.get(f"/static/lab.js?token={TOKEN}").status_code == 200
    assert client.get("/static/lab.js").status_code == 403
    assert client.get(f"/static/nothing.js?token={TOKEN}").status_code == 404
    page = client.get(f"/?token={TOKEN}").text
    assert f"/static/lab.js?token={TOKEN}" in page and "http" not in page.split("<body>")[1]


def test_other_origin_and_host_refused(client) -> None:
    assert client.get(f"/?token={TOKEN}", headers={"origin": "http://evil.example"}
                      ).status_code == 403
    assert client.get(f"/?token={TOKEN}", headers={"origin": BASE}).status_code == 200
    assert refusal({"headers": [(b"host", b"evil.example:8765")],
                    "query_string": f"token={TOKEN}".encode()}, TOKEN) is not None
    with pytest.raises(WebSocketDisconnect), client.websocket_connect(
            WS, headers={"origin": BASE}):
        pass
    with pytest.raises(WebSocketDisconnect), client.websocket_connect(
            f"{WS}?token={TOKEN}", headers={"origin": "http://evil.example"}):
        pass


def test_malformed_messages_get_errors_and_the_server_serves_on(client) -> None:
    with client.websocket_connect(f"{WS}?token={TOKEN}", headers={"origin": BASE}) as ws:
        init = receive(ws, "init")
        assert [p["game"] for p in init["panels"]] == [
            "minimax", "non-saturating", "maximum-likelihood"]
        for bad in ("not json", "[1, 2]", json.dumps({"type": 3}),
                    json.dumps({"type": "fly"}), json.dumps({"type": "step", "kind": "jump"}),
                    json.dumps({"type": "set", "key": "train.lr_d", "value": "fast"}),
                    json.dumps({"type": "speed", "value": 10**9}),
                    json.dumps({"type": "draw", "points": "a circle"})):
            ws.send_text(bad)
            assert receive(ws, "error")["message"]
        ws.send_bytes(b"\x00\x01")
        assert "bytes" in receive(ws, "error")["message"]
        ws.send_text(json.dumps({"type": "step", "kind": "iteration"}))  # still serving
        assert receive(ws, "frame")["iteration"] == 1


def test_d_step_changes_only_d_on_the_server(client, app) -> None:
    with client.websocket_connect(f"{WS}?token={TOKEN}", headers={"origin": BASE}) as ws:
        receive(ws, "init")
        receive(ws, "frame")  # the first frame, before any step
        (conn,) = app.state.connections
        s = conn.session
        before = [s.group.params(k) for k in range(3)]
        ws.send_text(json.dumps({"type": "step", "kind": "d"}))
        frame = receive(ws, "frame")
        assert frame["pending_g"] and frame["iteration"] == 0
        for k in range(3):
            d, g = s.group.params(k)
            assert not (d == before[k][0]).all() and (g == before[k][1]).all()


def test_settings_and_save_over_the_socket(client, tmp_path) -> None:
    with client.websocket_connect(f"{WS}?token={TOKEN}", headers={"origin": BASE}) as ws:
        receive(ws, "init")
        ws.send_text(json.dumps({"type": "set", "key": "train.lr_g", "value": 0.002}))
        assert receive(ws, "status")["applied"] == "now"
        ws.send_text(json.dumps({"type": "mode", "mode": "single"}))
        ws.send_text(json.dumps({"type": "set", "key": "loss.game", "value": "hinge"}))
        init = receive(ws, "init")
        init = receive(ws, "init")
        assert [p["game"] for p in init["panels"]] == ["hinge"]
        assert init["curves"][-1]["game"] == "hinge" and init["curves"][-1]["axis"] == "score"
        ws.send_text(json.dumps({"type": "save"}))
        assert "epoch" in receive(ws, "error")["message"]
        ws.send_text(json.dumps({"type": "step", "kind": "epoch"}))
        receive(ws, "frame")
        ws.send_text(json.dumps({"type": "save"}))
        saved = receive(ws, "saved")
        assert saved["path"].startswith(str(tmp_path / "runs"))
        assert "gankit train --config" in saved["command"]


def test_closing_the_page_stops_training(client, app) -> None:
    with client.websocket_connect(f"{WS}?token={TOKEN}", headers={"origin": BASE}) as ws:
        receive(ws, "init")
        (conn,) = app.state.connections
        ws.send_text(json.dumps({"type": "play"}))
        for _ in range(3):
            receive(ws, "frame")
        assert conn.playing
    deadline = time.monotonic() + 10
    while app.state.connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not app.state.connections and conn.closed and not conn.playing
    time.sleep(0.3)  # a step already running when the page went may finish
    stopped_at = conn.session.group.iteration
    time.sleep(0.5)
    assert conn.session.group.iteration == stopped_at


def test_parse_message() -> None:
    assert parse_message('{"type": "play"}') == {"type": "play"}
    for bad in ("", "{", "null", '{"kind": 1}', "x" * (2 << 20)):
        with pytest.raises(Exception, match="message"):
            parse_message(bad)
