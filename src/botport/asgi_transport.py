"""An httpx transport that runs an ASGI app in-process and streams its response as the app sends it.

``httpx.ASGITransport`` collects the whole body before returning, so a streamed answer from the
in-process emulator would arrive all at once. This transport runs the app in a task and hands each
``http.response.body`` chunk to the reader as it comes. Closing the response early tells the app
the client went away (``http.disconnect``) and, unless it ends by itself at once, cancels it.

Only the ``http`` scope is served (no lifespan, no websockets). An exception the app raises before it
starts the response, or after its body is complete (Starlette re-raises after sending a 500), is
raised to the caller. One raised mid-body surfaces as ``httpx.RemoteProtocolError`` (chained to the
original): a client of a real server sees a cut stream there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

import httpx

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

_END = object()  # the app finished its body
_QUEUE_CHUNKS = 16  # body chunks buffered before the app's ``send`` waits for the reader
_DISCONNECT_GRACE = 0.25  # seconds an app gets to end by itself after the client went away
_CANCEL_GRACE = 5.0  # seconds to wait for a cancelled app task to unwind


class _AppFailed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Exchange:
    """One request/response between the transport and a running app task."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.body_sent = False
        self.disconnected = asyncio.Event()
        self.started = asyncio.Event()
        self.body_ended = False
        self.early_error: BaseException | None = None  # raised before the response started
        self.late_error: BaseException | None = None  # raised after the body was complete
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: asyncio.Queue[object] = asyncio.Queue(maxsize=_QUEUE_CHUNKS)
        self.task: asyncio.Task[None] | None = None

    async def receive(self) -> Message:
        if not self.body_sent:
            self.body_sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.disconnected.is_set():
            raise OSError("client disconnected")  # what a server does when the peer is gone
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            self.started.set()
        elif kind == "http.response.body" and not self.body_ended:
            chunk = bytes(message.get("body", b""))
            if chunk:
                await self.chunks.put(chunk)
            if not message.get("more_body", False):
                self.body_ended = True
                await self.chunks.put(_END)

    async def run(self, app: ASGIApp, scope: MutableMapping[str, Any]) -> None:
        try:
            await app(scope, self.receive, self.send)
        except Exception as exc:
            if self.body_ended:
                self.late_error = exc
                return
            self._fail(exc)
            if self.started.is_set():
                await self.chunks.put(_AppFailed(exc))
            return
        if not self.body_ended:
            error = RuntimeError("the ASGI app returned without completing its response")
            self._fail(error)
            if self.started.is_set():
                await self.chunks.put(_AppFailed(error))

    def _fail(self, exc: BaseException) -> None:
        if not self.started.is_set():
            self.early_error = exc
            self.started.set()

    async def stop(self) -> None:
        """The reader is done. If the body was cut short, the client went away: tell the app (as
        uvicorn does: ``receive`` gives ``http.disconnect`` and ``send`` raises ``OSError``), let it
        end by itself for a moment, then cancel it. An app that finished its body may go on
        (background work after the response), as behind a real server."""
        task = self.task
        if task is None or task.done() or self.body_ended:
            return
        self.disconnected.set()
        while not self.chunks.empty():  # unblock a ``send`` waiting for room; it then sees the disconnect
            self.chunks.get_nowait()
        done, _ = await asyncio.wait([task], timeout=_DISCONNECT_GRACE)
        if not done:
            task.cancel()
            await asyncio.wait([task], timeout=_CANCEL_GRACE)


class _StreamingBody(httpx.AsyncByteStream):
    def __init__(self, exchange: _Exchange, read_timeout: float | None) -> None:
        self._exchange = exchange
        self._read_timeout = read_timeout
        self._ended = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while not self._ended:
            try:
                item = await asyncio.wait_for(self._exchange.chunks.get(), self._read_timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("no data from the app within the read timeout") from None
            if item is _END:
                self._ended = True
                await self._raise_late_error()
            elif isinstance(item, _AppFailed):
                self._ended = True
                raise httpx.RemoteProtocolError("the app failed mid-response") from item.exc
            else:
                assert isinstance(item, bytes)
                yield item

    async def _raise_late_error(self) -> None:
        """Let the app finish (as ``httpx.ASGITransport`` does) so an exception it raises after its
        body, e.g. Starlette's error middleware re-raising after a 500, reaches the caller."""
        task = self._exchange.task
        if task is not None and not task.done():
            await asyncio.wait([task], timeout=self._read_timeout)
        if self._exchange.late_error is not None:
            raise self._exchange.late_error

    async def aclose(self) -> None:
        self._ended = True
        await self._exchange.stop()


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Serve requests from an ASGI app in this process, streaming response bodies."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        client: tuple[str, int] = ("127.0.0.1", 50000),
        extensions: dict[str, Any] | None = None,
    ) -> None:
        self.app = app
        self.client = client
        self.extensions = extensions or {}  # in every scope: what no network request can claim
        self._tasks: set[asyncio.Task[None]] = set()  # strong references to running apps

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        exchange = _Exchange(body)
        task = asyncio.create_task(exchange.run(self.app, self._scope(request)))
        exchange.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        read_timeout = request.extensions.get("timeout", {}).get("read")
        try:
            await asyncio.wait_for(exchange.started.wait(), read_timeout)
        except TimeoutError:
            await exchange.stop()
            raise httpx.ReadTimeout("the app did not start a response within the read timeout") from None
        except BaseException:
            await exchange.stop()
            raise
        if exchange.early_error is not None:
            raise exchange.early_error
        return httpx.Response(
            exchange.status,
            headers=exchange.headers,
            stream=_StreamingBody(exchange, read_timeout),
            request=request,
        )

    def _scope(self, request: httpx.Request) -> dict[str, Any]:
        url = request.url
        port = url.port or {"http": 80, "https": 443}.get(url.scheme, 80)
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "scheme": url.scheme,
            "path": unquote(url.path),
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "query_string": url.query,
            "root_path": "",
            "server": (url.host, port),
            "client": self.client,
            "extensions": dict(self.extensions),
        }

    async def aclose(self) -> None:
        """Cancel apps still running (their responses were abandoned without being closed)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=_CANCEL_GRACE)
