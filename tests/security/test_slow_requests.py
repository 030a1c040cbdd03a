"""A request whose body stops short of its Content-Length, or trickles, is answered 408 and its
connection closed once the body has gone ``body_timeout`` seconds without a byte; it used to hold the
connection until the client gave up. A real uvicorn server, raw sockets. The stream that follows a
complete body is not timed (a client may listen for minutes)."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from botport.app import create_app
from botport.connections import ConnectionLimits, guarded_protocol
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


# --- the request head, and connections per client (botport.connections) ------------------------------
# uvicorn times neither: a head that never ends held its connection for ever, and one client could
# open connections until the process ran out of open files.

HEADER_TIMEOUT = 0.5
CAP = 5
OTHER = "127.0.0.2"  # on Linux all of 127/8 is loopback: a second client address on one machine


def _serve_guarded(tmp_path: Path, live_server: Callable[..., Any], **values: Any) -> Any:
    settings = Settings(
        **{
            "data_dir": tmp_path,
            "secret_key": SecretStr("a-test-secret-key"),
            "header_timeout": HEADER_TIMEOUT,
            "max_connections_per_client": CAP,
            "trusted_proxies": [],
            **values,
        }
    )
    protocol = guarded_protocol(ConnectionLimits.from_settings(settings))
    return live_server(create_app(settings), http=protocol)


def _connect(url: str, source: str = "127.0.0.1", timeout: float = 5) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    try:
        return socket.create_connection((host, int(port)), timeout=timeout, source_address=(source, 0))
    except OSError as exc:  # not Linux: 127.0.0.2 is no address of this machine
        pytest.skip(f"cannot connect from {source}: {exc}")


def _until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _get(url: str, path: str = "/healthz", source: str = "127.0.0.1") -> bytes:
    """A whole request on a fresh connection from ``source``: the whole answer."""
    with _connect(url, source) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
        return _until_closed(sock)


def _status(response: bytes) -> bytes:
    return response.partition(b"\r\n")[0]


def _error_code(response: bytes) -> str:
    return str(json.loads(response.partition(b"\r\n\r\n")[2])["error"]["code"])


def test_a_head_that_stops_short_is_a_408_and_the_connection_closes(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    server = _serve_guarded(tmp_path, live_server)
    started = time.monotonic()
    with _connect(server.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Half: ")
        received = _until_closed(sock)  # a timeout error here: the server never answered
    took = time.monotonic() - started
    assert _status(received) == b"HTTP/1.1 408 Request Timeout", received[:300]
    assert b"\r\nconnection: close\r\n" in received.lower()
    assert _error_code(received) == "request_timeout"
    assert HEADER_TIMEOUT <= took < HEADER_TIMEOUT + 2
    assert _status(_get(server.url)) == b"HTTP/1.1 200 OK"  # the server serves on


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    server = _serve_guarded(tmp_path, live_server)
    started = time.monotonic()
    with _connect(server.url) as sock:
        assert _until_closed(sock) == b""
    assert HEADER_TIMEOUT <= time.monotonic() - started < HEADER_TIMEOUT + 2


def test_a_head_trickled_a_byte_at_a_time_is_cut_at_the_deadline(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    """Each byte comes well within the timeout: only a deadline for the whole head cuts it."""
    server = _serve_guarded(tmp_path, live_server)
    head = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"  # 12 s at this pace
    started = time.monotonic()
    received = b""
    with _connect(server.url) as sock:
        for byte in head:
            if select.select([sock], [], [], HEADER_TIMEOUT / 10)[0]:
                received = _until_closed(sock)
                break
            sock.sendall(bytes([byte]))
    took = time.monotonic() - started
    assert _status(received) == b"HTTP/1.1 408 Request Timeout", received[:300]
    assert HEADER_TIMEOUT <= took < HEADER_TIMEOUT + 2


def test_a_keep_alive_request_head_has_the_same_deadline(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    server = _serve_guarded(tmp_path, live_server)
    with _connect(server.url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        first = b""
        while not first.endswith(b"}"):  # the JSON of /healthz; the connection stays open
            first += sock.recv(65536)
        assert _status(first) == b"HTTP/1.1 200 OK"
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHo")
        received = _until_closed(sock)
    assert _status(received) == b"HTTP/1.1 408 Request Timeout", received[:300]
    assert HEADER_TIMEOUT <= time.monotonic() - started < HEADER_TIMEOUT + 2


def test_connections_past_the_cap_from_one_address_get_503_and_others_are_served(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    server = _serve_guarded(tmp_path, live_server, header_timeout=30)  # the flood is held, not timed out
    flood = [_connect(server.url, OTHER) for _ in range(CAP)]
    try:
        for _ in range(3):  # one more, and more: each answered at once
            started = time.monotonic()
            refused = _get(server.url, source=OTHER)
            assert _status(refused) == b"HTTP/1.1 503 Service Unavailable", refused[:300]
            assert b"\r\nretry-after: " in refused.lower()
            assert _error_code(refused) == "too_many_connections"
            assert time.monotonic() - started < 1
        assert _status(_get(server.url)) == b"HTTP/1.1 200 OK"  # another address is served meanwhile
    finally:
        for sock in flood:
            sock.close()
    deadline = time.monotonic() + 5  # once the flood is cut, its address is served again
    while _status(response := _get(server.url, source=OTHER)) != b"HTTP/1.1 200 OK":
        assert time.monotonic() < deadline, response[:300]
        time.sleep(0.05)


def test_a_trusted_proxy_is_not_capped(tmp_path: Path, live_server: Callable[..., Any]) -> None:
    """Behind a reverse proxy every client has the proxy's address; the proxy limits them itself."""
    server = _serve_guarded(tmp_path, live_server, header_timeout=30, trusted_proxies=["127.0.0.1/32"])
    held = [_connect(server.url) for _ in range(2 * CAP)]
    held += [_connect(server.url, OTHER) for _ in range(CAP)]
    try:
        assert _status(_get(server.url)) == b"HTTP/1.1 200 OK"
        assert _status(_get(server.url, source=OTHER)) == b"HTTP/1.1 503 Service Unavailable"
    finally:
        for sock in held:
            sock.close()


def test_a_head_larger_than_64_kib_is_a_431_and_a_large_body_is_not(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    """uvicorn's parser keeps a head of any size in memory (20 MB were taken): past 64 KiB it is 431."""
    server = _serve_guarded(tmp_path, live_server, header_timeout=5)
    with _connect(server.url) as sock:
        for _ in range(10):  # in pieces, as a slow sender would: the count spans them
            sock.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: t\r\n" if _ == 0 else b"X-Big: " + b"a" * 8000 + b"\r\n"
            )
        received = _until_closed(sock)
    assert _status(received) == b"HTTP/1.1 431 Request Header Fields Too Large", received[:200]
    assert _error_code(received) == "headers_too_large"
    # A body of 200 KB sent with its head in one piece is not a head.
    body = json.dumps({"title": "t" * 150, "pad": "x" * 200_000}).encode()
    head = b"POST /api/conversations HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    head += b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
    with _connect(server.url) as sock:
        sock.sendall(head + body)
        answered = _until_closed(sock)
    assert _status(answered) == b"HTTP/1.1 422 Unprocessable Entity", answered[:300]  # read and judged
    assert _status(_get(server.url)) == b"HTTP/1.1 200 OK"
