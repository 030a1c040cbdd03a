"""httpcore's network layer on plain asyncio transports, for the connections to Coze.

httpcore's default (anyio) wraps every read of a socket in a cancel scope, a timeout scope and an
exception-mapping context manager, and asks the OS on every pool scan whether an idle connection is
still open: at one read per streamed delta, that was about a fifth of botport's CPU at saturation
(``bench/profile_saturation.py``). Here a socket's bytes arrive through an :class:`asyncio.Protocol`
into a buffer: a read that finds bytes waiting returns them without suspending, a read that must wait
parks on one future with one timer, and "is it still open" is a look at the buffer.

httpcore documents network backends as its extension point (``httpcore.AsyncNetworkBackend``);
:func:`coze_transport` plugs this one into an httpx transport.
"""

# httpcore names the interface: its methods take a ``timeout`` argument.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import Any, cast

import httpcore
import httpx

READ_BUFFER_LIMIT = 1 << 20  # stop reading the socket past 1 MiB not yet taken by httpcore
HAPPY_EYEBALLS_DELAY = 0.25  # RFC 8305: try the next address if one has not connected by then

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class _SocketProtocol(asyncio.Protocol):
    """Buffers what the socket receives and wakes the one reader (or writer) waiting."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.error: Exception | None = None
        self.transport: asyncio.Transport | None = None
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None
        self._writing_paused = False
        self._reading_paused = False

    # --- asyncio's side -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_BUFFER_LIMIT and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        self._wake_writer()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_writer()

    # --- httpcore's side ------------------------------------------------------------------------

    def take(self, max_bytes: int) -> bytes:
        if len(self.buffer) <= max_bytes:
            data = bytes(self.buffer)
            self.buffer.clear()
        else:
            data = bytes(self.buffer[:max_bytes])
            del self.buffer[:max_bytes]
        if self._reading_paused and len(self.buffer) <= READ_BUFFER_LIMIT // 2 and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def readable(self, timeout: float | None) -> None:
        """Until bytes are buffered or the connection has ended (one reader at a time)."""
        self._reader = asyncio.get_running_loop().create_future()
        await _wait(self._reader, timeout, httpcore.ReadTimeout)

    async def drained(self, timeout: float | None) -> None:
        """Until the transport takes writes again, if it said its buffer was full."""
        if self._writing_paused and self.error is None:
            self._writer = asyncio.get_running_loop().create_future()
            await _wait(self._writer, timeout, httpcore.WriteTimeout)

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _wake_writer(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.set_result(None)


async def _wait(future: asyncio.Future[None], timeout: float | None, error: type[Exception]) -> None:
    if timeout is None:
        await future
        return
    # One timer handle, not a timeout scope: a read waits like this once per delta Coze sends.
    timer = asyncio.get_running_loop().call_later(timeout, _expire, future, error)
    try:
        await future
    finally:
        timer.cancel()


def _expire(future: asyncio.Future[None], error: type[Exception]) -> None:
    if not future.done():
        future.set_exception(error())


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: a transport and the protocol that buffers its bytes."""

    def __init__(self, transport: asyncio.Transport, protocol: _SocketProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            await protocol.readable(timeout)
        if protocol.buffer:
            return protocol.take(max_bytes)
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
        return b""  # the peer closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        await self._protocol.drained(timeout)
        if self._protocol.error is not None:
            raise httpcore.WriteError(str(self._protocol.error))

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self._transport.close()
            raise httpcore.ConnectTimeout("TLS handshake timed out") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if transport is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = transport
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        transport = self._transport
        if info == "is_readable":  # idle connection with bytes or an end waiting: the server left
            return bool(self._protocol.buffer) or self._protocol.eof
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncioStream:
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await connect_first(await _addresses(host, port), port, local)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return _stream(transport, protocol, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SocketOption] | None = None
    ) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_unix_connection(_SocketProtocol, path)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting to {path} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return _stream(transport, protocol, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _addresses(host: str, port: int) -> list[tuple[int, str]]:
    return interleaved(await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM))


def interleaved(infos: Iterable[tuple[Any, ...]]) -> list[tuple[int, str]]:
    """getaddrinfo's addresses as (family, ip), the families taking turns in the order they first
    appear (RFC 8305): IPv6, IPv4, IPv6, ... or the reverse."""
    by_family: dict[int, list[str]] = {}
    for family, _, _, _, address in infos:
        ips = by_family.setdefault(family, [])
        if str(address[0]) not in ips:
            ips.append(str(address[0]))
    columns = list(by_family.items())
    longest = max((len(ips) for _, ips in columns), default=0)
    return [(family, ips[i]) for i in range(longest) for family, ips in columns if i < len(ips)]


async def connect_first(
    addresses: Sequence[tuple[int, str]], port: int, local: tuple[str, int] | None
) -> tuple[asyncio.Transport, _SocketProtocol]:
    """Connect to the first address that answers. The next is tried as soon as one fails, or when
    it has not connected within HAPPY_EYEBALLS_DELAY (RFC 8305), so an address family with a broken
    route costs a quarter of a second, not the whole connect timeout. (asyncio's own loop can do
    this; uvloop, which ``botport serve`` runs on, cannot.)"""
    loop = asyncio.get_running_loop()
    waiting = list(addresses)
    attempts: set[asyncio.Future[tuple[asyncio.Transport, _SocketProtocol]]] = set()
    attempted: dict[asyncio.Future[tuple[asyncio.Transport, _SocketProtocol]], str] = {}
    errors: list[str] = []
    try:
        while waiting or attempts:
            if waiting:
                family, ip = waiting.pop(0)
                attempt = loop.create_connection(_SocketProtocol, ip, port, family=family, local_addr=local)
                started = asyncio.ensure_future(attempt)
                attempts.add(started)
                attempted[started] = ip
            done, attempts = await asyncio.wait(
                attempts,
                timeout=HAPPY_EYEBALLS_DELAY if waiting else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                failure = task.exception()
                if failure is None:
                    transport, protocol = task.result()
                    for late in done - {task}:  # two connected at once: keep one
                        if late.exception() is None:
                            late.result()[0].close()
                    return transport, protocol
                errors.append(f"{attempted[task]}: {failure or type(failure).__name__}")
    finally:
        for task in attempts:
            task.cancel()
        # One may have connected just as it was cancelled: close it.
        for outcome in await asyncio.gather(*attempts, return_exceptions=True):
            if isinstance(outcome, tuple):
                outcome[0].close()
    raise OSError("; ".join(errors) or "the host has no address")


def _stream(
    transport: asyncio.BaseTransport, protocol: _SocketProtocol, options: Iterable[SocketOption] | None
) -> AsyncioStream:
    transport = cast(asyncio.Transport, transport)
    sock: socket.socket | None = transport.get_extra_info("socket")
    if sock is not None:
        for option in options or ():
            sock.setsockopt(*option)
    return AsyncioStream(transport, protocol)


def coze_transport(limits: httpx.Limits, ssl_context: ssl.SSLContext) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections run on :class:`AsyncioBackend`. (Proxies that httpx
    takes from the environment get transports of their own: those keep httpcore's default.)"""
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits)
    # httpx builds its httpcore pool without a way to name the backend: build it the same way, with one.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=AsyncioBackend(),
    )
    return transport
