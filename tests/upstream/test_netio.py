"""The network layer under the connections to Coze (botport.upstream.netio), driven through a real
httpx client against real sockets, on asyncio's loop and on uvloop (what ``botport serve`` runs):
bytes in order under back-pressure both ways, TLS, keep-alive reuse, a server that closed an idle
connection, and every failure mapped to the httpx error the client already handles."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trustme
import uvloop

from botport.upstream import netio
from botport.upstream.netio import coze_transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4, keepalive_expiry=30)
LOOP_CLOCK_RESOLUTION = 0.001  # uvloop's timers count whole milliseconds; asyncio's, nanoseconds


Run = Callable[[Coroutine[Any, Any, None]], None]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Run:
    """Runs a test's body on a fresh loop of either kind."""
    return uvloop.run if request.param == "uvloop" else asyncio.run


@asynccontextmanager
async def server(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[str, list[int]]]:
    """A raw HTTP/1.1 server on loopback; yields its URL and the peer port of each connection."""
    peers: list[int] = []
    handlers: set[asyncio.Task[None]] = set()

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername")[1])
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client left, or the test is over
        finally:
            writer.close()

    srv = await asyncio.start_server(accepted, "127.0.0.1", 0, ssl=tls)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}", peers
    finally:
        srv.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers)


def client(ssl_context: ssl.SSLContext | None = None, **timeouts: float) -> httpx.AsyncClient:
    context = ssl_context or ssl.create_default_context()
    timeout = httpx.Timeout(**{"timeout": 5.0, **timeouts})
    return httpx.AsyncClient(transport=coze_transport(LIMITS, context), timeout=timeout)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """The request's body (Content-Length framed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return await reader.readexactly(length)


def response(body: bytes, *, close: bool = False) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), connection, body)


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        body = await read_request(reader)
        writer.write(response(body))
        await writer.drain()


def test_bodies_arrive_whole_and_in_order_both_ways_under_back_pressure(run: Run) -> None:
    """8 MiB up and back: the transport pauses our writes and we pause its reads (past 1 MiB)."""

    async def body() -> None:
        payload = bytes(range(256)) * (8 * 4096)
        async with server(echo_forever) as (url, _), client() as http:
            echoed = await http.post(url, content=payload)
            assert echoed.content == payload
            streamed = bytearray()
            async with http.stream("POST", url, content=payload) as reply:
                async for chunk in reply.aiter_raw():
                    streamed += chunk
                    await asyncio.sleep(0)  # a slow reader: the socket's bytes pile up meanwhile
            assert streamed == payload

    run(body())


def test_a_stream_of_small_events_is_read_as_it_comes(run: Run) -> None:
    async def body() -> None:
        async def events(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for number in range(50):
                event = b"data: %d\n\n" % number
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
                await asyncio.sleep(0.002)
            writer.write(b"0\r\n\r\n")
            await writer.drain()

        async with server(events) as (url, _), client() as http, http.stream("GET", url) as reply:
            text = "".join([chunk async for chunk in reply.aiter_text()])
        assert text == "".join(f"data: {n}\n\n" for n in range(50))

    run(body())


def test_a_kept_alive_connection_is_reused(run: Run) -> None:
    async def body() -> None:
        async with server(echo_forever) as (url, peers), client() as http:
            for word in (b"one", b"two", b"three"):
                assert (await http.post(url, content=word)).content == word
        assert len(peers) == 1

    run(body())


def test_a_connection_the_server_closed_while_idle_is_not_reused(run: Run) -> None:
    """The server answers, then closes the kept-alive connection: the pool sees the end waiting
    on the idle connection and opens a new one, instead of failing the next request."""

    async def body() -> None:

        async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            body = await read_request(reader)
            writer.write(response(body))
            await writer.drain()

        async with server(answer_once) as (url, peers), client() as http:
            assert (await http.post(url, content=b"first")).content == b"first"
            await asyncio.sleep(0.2)  # the server's FIN arrives
            assert (await http.post(url, content=b"second")).content == b"second"
        assert len(peers) == 2

    run(body())


def test_tls_with_the_servers_certificate_checked(run: Run) -> None:
    async def body() -> None:
        authority = trustme.CA()
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(server_tls)
        trusting = ssl.create_default_context()
        authority.configure_trust(trusting)
        async with server(echo_forever, tls=server_tls) as (url, _):
            async with client(trusting) as http:
                assert (await http.post(url, content=b"secret")).content == b"secret"
            async with client(ssl.create_default_context()) as http:  # a CA it does not know
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await http.post(url, content=b"secret")

    run(body())


def test_a_silent_server_is_a_read_timeout(run: Run) -> None:
    async def body() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            await asyncio.sleep(10)

        async with server(silent) as (url, _), client(read=0.3) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(url)

    run(body())


def test_a_stream_cut_midway_is_a_protocol_error(run: Run) -> None:
    async def body() -> None:
        async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly part of it")
            await writer.drain()

        async with server(cut) as (url, _), client() as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(url)

    run(body())


def test_a_refused_connection_is_a_connect_error(run: Run) -> None:
    async def body() -> None:
        async with server(echo_forever) as (url, _):
            pass  # closed: nothing listens on that port any more
        async with client() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(url)

    run(body())


def test_the_transport_connects_through_this_layer(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx builds its own pool; coze_transport swaps in one on this backend. Should an httpx
    release stop using the swapped pool, connections would bypass this layer: this fails then."""
    connects: list[tuple[str, int]] = []
    original = netio.AsyncioBackend.connect_tcp

    async def counted(self: netio.AsyncioBackend, host: str, port: int, **kwargs: Any) -> netio.AsyncioStream:
        connects.append((host, port))
        return await original(self, host, port, **kwargs)

    monkeypatch.setattr(netio.AsyncioBackend, "connect_tcp", counted)

    async def body() -> None:
        async with server(echo_forever) as (url, _), client() as http:
            assert (await http.post(url, content=b"hi")).content == b"hi"
            assert connects == [("127.0.0.1", int(url.rsplit(":", 1)[1]))]

    run(body())


def _unanswering(ip: str) -> tuple[socket.socket, list[socket.socket]]:
    """A listening socket whose backlog is full: the kernel drops further SYNs, so a connect to it
    hangs like one over a broken route."""
    listener = socket.socket()
    listener.bind((ip, 0))
    listener.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    return listener, fillers


def test_an_address_that_does_not_answer_costs_a_quarter_second_not_the_timeout(run: Run) -> None:
    """Happy eyeballs on both loops: 127.0.0.2 hangs, so 127.0.0.1 (same port) is tried 0.25 s later."""
    listener, fillers = _unanswering("127.0.0.2")
    port = listener.getsockname()[1]

    async def body() -> None:
        async def hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"hello")
            await writer.drain()
            writer.close()

        srv = await asyncio.start_server(hello, "127.0.0.1", port)
        try:
            started = time.monotonic()
            addresses = [(socket.AF_INET, "127.0.0.2"), (socket.AF_INET, "127.0.0.1")]
            async with asyncio.timeout(5):
                transport, protocol = await netio.connect_first(addresses, port, None)
            elapsed = time.monotonic() - started
            assert transport.get_extra_info("peername") == ("127.0.0.1", port)
            # The delay is a timer of the loop, on the loop's clock: uvloop's counts whole milliseconds
            # (libuv), so its 0.25 s timer may fire up to 1 ms before 0.25 s have passed by monotonic().
            assert netio.HAPPY_EYEBALLS_DELAY - LOOP_CLOCK_RESOLUTION <= elapsed < 2, elapsed
            stream = netio.AsyncioStream(transport, protocol)
            assert await stream.read(100, timeout=2) == b"hello"
            await stream.aclose()
        finally:
            srv.close()
            await srv.wait_closed()

    try:
        run(body())
    finally:
        for sock in (listener, *fillers):
            sock.close()


def test_every_address_refusing_is_one_error_naming_each(run: Run) -> None:
    async def body() -> None:
        async with server(echo_forever) as (url, _):
            port = int(url.rsplit(":", 1)[1])
        addresses = [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "127.0.0.3")]
        with pytest.raises(OSError) as refused:
            await netio.connect_first(addresses, port, None)
        assert "127.0.0.1" in str(refused.value) and "127.0.0.3" in str(refused.value)

    run(body())


def test_address_families_take_turns() -> None:
    v4, v6 = socket.AF_INET, socket.AF_INET6
    infos = [
        (v6, socket.SOCK_STREAM, 6, "", ("2001:db8::1", 443, 0, 0)),
        (v6, socket.SOCK_STREAM, 6, "", ("2001:db8::2", 443, 0, 0)),
        (v6, socket.SOCK_STREAM, 6, "", ("2001:db8::3", 443, 0, 0)),
        (v4, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 443)),
        (v4, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 443)),  # the same address twice: once
    ]
    assert netio.interleaved(infos) == [
        (v6, "2001:db8::1"),
        (v4, "192.0.2.1"),
        (v6, "2001:db8::2"),
        (v6, "2001:db8::3"),
    ]
    assert netio.interleaved([]) == []
