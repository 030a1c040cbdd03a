"""Connections before they are requests: a deadline for the request head and a cap per client address.

uvicorn times a body only through the app (botport's :mod:`botport.api.limits`), and an idle keep-alive
connection only *between* requests (``timeout_keep_alive``). Nothing times a connection that opened and
sends no head, or sends it a byte at a time, and nothing counts connections per client: 300 half-sent
heads were held for ever, and 1,100 connections from one client used up the process's open files so
that ``/healthz`` failed for everyone. The app cannot help, it sees a request only once its head is in.
So this is uvicorn's own HTTP protocol (httptools, which ``uvicorn[standard]`` installs) with two guards:

- **Head deadline.** A request line and headers must be in ``header_timeout`` seconds after the
  connection opened (a later request on a keep-alive connection: after its first byte). The deadline is
  fixed when it is armed, so a head trickled a byte at a time is cut too. If part of a head came, the
  answer is ``408`` with a JSON error and ``Connection: close``; a connection that sent nothing is closed.
- **Connections per client.** At most ``max_connections_per_client`` open connections per peer address,
  per server process (each process has its own open-files limit). One more is answered ``503`` with
  ``Retry-After`` at once, before its request is read, and closed: a client or proxy gets an answer it
  understands and backs off, where a bare close reads as a network fault that clients retry at once.
  Addresses in ``trusted_proxies`` are not capped: behind a reverse proxy every client has the proxy's
  address, and the proxy limits them itself (``limit_conn``).

Both answers are written and the writing side shut; the connection closes once what the client sent
(its request, usually in flight when a 503 is written) has been read and dropped, or after
:data:`LINGER` seconds if nothing comes. Closing with unread input would make the kernel send a reset,
which can destroy the answer before the client reads it. But each lingering connection holds an open
file, the very thing the cap saves: past :data:`MAX_LINGERING` of them (a flood), an answered connection
is closed at once.

:func:`guarded_protocol` makes a class with counts of its own (one per server, as in tests);
``botport serve`` names :class:`ProcessHttpProtocol` by import string instead, because its worker
processes are spawned and load the protocol by name, and configures it in each process with
:func:`configure_process`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from botport.api.forwarded import TrustedProxies
from botport.settings import Settings

log = logging.getLogger("botport.connections")

LINGER = 0.5  # seconds an answered connection waits for the client's input (to drop it) before it closes
MAX_LINGERING = 256  # answered connections left to linger at once; more are closed at once
RETRY_AFTER = 5  # seconds a capped client is told to wait: connections close as requests end
MAX_HEAD_BYTES = 64 * 1024  # a request line and headers together (nginx's default buffers: 32 KiB)
PROCESS_PROTOCOL = "botport.connections:ProcessHttpProtocol"


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    max_per_client: int = 256  # 0: no cap
    trusted: TrustedProxies = field(default_factory=lambda: TrustedProxies(["127.0.0.1", "::1"]))

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_timeout=settings.header_timeout,
            max_per_client=settings.max_connections_per_client,
            trusted=TrustedProxies(settings.trusted_proxies),
        )


class ConnectionCounts:
    """What one server's connections share (one event loop: no locks)."""

    def __init__(self) -> None:
        self.per_client: Counter[str] = Counter()
        self.capped: set[str] = set()  # addresses refused since they last went under the cap
        self.lingering = 0


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head deadline and a cap per client address."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    counts: ClassVar[ConnectionCounts] = ConnectionCounts()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counted: str | None = None  # the address this connection is counted against
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False  # a byte of the pending head has come
        self._head_bytes = 0  # bytes received while a head is pending (the parser has no limit)
        self._in_head = True
        self._answered = False  # a 408 or 503 is written: input is dropped until the close
        self._linger: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        client = self._capped_address()
        if client is not None:
            cap = self.limits.max_per_client
            if self.counts.per_client[client] >= cap:
                if client not in self.counts.capped:
                    self.counts.capped.add(client)
                    log.warning("%s holds %d connections, the cap: refusing more with 503", client, cap)
                self._answer(
                    503,
                    "too_many_connections",
                    f"this address has {cap} connections open already; close some or retry later",
                    [(b"retry-after", str(RETRY_AFTER).encode())],
                )
                return
            self.counts.per_client[client] += 1
            self._counted = client
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
            self.counts.lingering -= 1
        self._release()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._answered:
            self.transport.close()  # input read and dropped: none is left unread to cause a reset
            return
        in_head = self._in_head
        super().data_received(data)
        # A chunk is counted when a head was pending before and after the parser saw it: not one in
        # which a head ended (a body may follow), nor one that ended a body (the next head may begin).
        if in_head and self._in_head and not self._answered and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                limit = MAX_HEAD_BYTES // 1024
                self._answer(431, "headers_too_large", f"the request line and headers exceed {limit} KiB")

    def on_message_begin(self) -> None:  # the parser met a request's first byte
        super().on_message_begin()
        self._arm_head_timer()  # the first request's was armed when the connection opened
        self._head_started = True

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # what comes next on this connection is the next request's head

    def handle_websocket_upgrade(self) -> None:
        # The connection passes to another protocol, and this one hears no more of it.
        self._disarm_head_timer()
        self._release()
        super().handle_websocket_upgrade()

    # -- the head deadline ------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_started = False

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A head pipelined behind a response still being sent (a stream may last minutes): the
            # connection ends with that response, which is not cut.
            self.cycle.keep_alive = False
            return
        if not self._head_started:
            self.transport.close()  # nothing of a request came: nobody to answer
            return
        timeout = self.limits.header_timeout
        self._answer(408, "request_timeout", f"the request headers did not arrive within {timeout:g} s")

    # -- the cap per client ------------------------------------------------------------------------

    def _capped_address(self) -> str | None:
        """The address this connection counts against; None when it is not capped."""
        if self.limits.max_per_client <= 0 or self.client is None:
            return None
        address = self.client[0]
        if address in self.limits.trusted:
            return None
        return address

    def _release(self) -> None:
        client, self._counted = self._counted, None
        if client is None:
            return
        per_client = self.counts.per_client
        per_client[client] -= 1
        if per_client[client] <= 0:
            del per_client[client]
        if per_client[client] < self.limits.max_per_client:
            self.counts.capped.discard(client)

    # -- answering before (or instead of) the app -------------------------------------------------

    def _answer(
        self, status: int, code: str, message: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        """Write a JSON error and shut the writing side; close once input is read, or after LINGER."""
        self._answered = True
        self._disarm_head_timer()
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        lines = [STATUS_LINE[status]]
        all_headers = [
            *self.server_state.default_headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *(headers or []),
            (b"connection", b"close"),
        ]
        lines.extend(name + b": " + value + b"\r\n" for name, value in all_headers)
        self.transport.write(b"".join([*lines, b"\r\n", body]))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        if self.counts.lingering >= MAX_LINGERING:
            self.transport.close()  # asyncio writes the answer first
            return
        # Closed earlier by the client's input (data_received), or its end (eof_received: then asyncio
        # closes the transport).
        self._linger = self.loop.call_later(LINGER, self.transport.close)
        self.counts.lingering += 1


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedHttpProtocol]:
    """A protocol class for one server: its limits, and counts of its own."""
    attributes = {"limits": limits, "counts": ConnectionCounts()}
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), attributes)


class ProcessHttpProtocol(GuardedHttpProtocol):
    """The protocol of ``botport serve``'s process (or of each of its workers), named by
    :data:`PROCESS_PROTOCOL` and configured by :func:`configure_process` before it serves."""

    counts: ClassVar[ConnectionCounts] = ConnectionCounts()


def configure_process(settings: Settings) -> None:
    ProcessHttpProtocol.limits = ConnectionLimits.from_settings(settings)
