"""A request whose body stops short of its Content-Length, or trickles, is answered 408 and its
connection closed once the body has gone ``body_timeout`` seconds without a byte; it used to hold the
connection until the client gave up. A real uvicorn server, raw sockets. The stream that follows a
complete body is not timed (a client may listen for minutes)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from botport.app import create_app
from botport.settings import Settings

pytestmark = pytest.mark.live

BODY_TIMEOUT = 0.5


def _serve(tmp_path: Path, live_server: Callable[..., Any]) -> Any:
    settings = Settings(
        data_dir=tmp_path, secret_key=SecretStr("a-test-secret-key"), body_timeout=BODY_TIMEOUT
    )
    return live_server(create_app(settings))


def _raw(url: str, head: bytes, body: bytes) -> tuple[bytes, float]:
    """Send ``head`` and ``body`` on a fresh socket; everything the server sends until it closes."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received, time.monotonic() - started


def test_a_body_shorter_than_its_length_is_a_408_and_the_connection_closes(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    server = _serve(tmp_path, live_server)
    body = b'{"bot": "demo"}'
    head = (
        b"POST /api/conversations HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % (len(body) + 20)
    )
    received, took = _raw(server.url, head, body)  # recv returns b"" only when the server closes
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout", received[:300]
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "request_timeout"
    assert BODY_TIMEOUT <= took < BODY_TIMEOUT + 5
    with httpx.Client(base_url=server.url) as client:  # nothing was stored, the server serves on
        assert client.post("/api/conversations", json={}).status_code == 201
        assert client.get("/api/conversations").json()["items"] != []


def test_a_stream_after_a_whole_body_is_not_cut_by_the_body_timeout(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    server = _serve(tmp_path, live_server)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        cid = client.post("/api/conversations", json={"bot": "slow"}).json()["id"]
        started = time.monotonic()
        with client.stream(
            "POST", f"/api/conversations/{cid}/messages", json={"content": "hello there"}
        ) as r:
            text = r.read().decode()
        assert time.monotonic() - started > 2 * BODY_TIMEOUT  # the slow bot takes seconds
    assert "event: turn.completed" in text
