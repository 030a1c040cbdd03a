"""``/mcp``: the MCP server over Streamable HTTP, in botport's own app and lifespan.

Stateless: every POST is served on its own, by whichever instance the load balancer picks, with no
``Mcp-Session-Id`` to keep. Nothing here needs a session: a tool call's progress and result travel on
the response stream of its own POST, and the server never asks the client anything. So several
instances behind a load balancer need no sticky sessions, and a restart loses no session.

Before the SDK sees a request, this endpoint authenticates it with a botport API key (401 with
``WWW-Authenticate: Bearer`` otherwise) and keeps the caller in the ASGI scope for the handlers; it
also watches the request for the two ways a client stops a call the SDK's stateless transport would
not pass on: a posted ``notifications/cancelled`` (2025 protocol) and the client going away.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from botport.api.deps import Services, api_key_identity
from botport.api.errors import send_error
from botport.errors import AuthenticationError, BotportError
from botport.identity import Identity
from botport.mcp.calls import CALLER_KEY, CANCELLED, Caller, InFlight
from botport.mcp.openapi import PATH_ITEM

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

PATH = "/mcp"
CHALLENGE = 'Bearer realm="botport"'
PROTOCOL_VERSION_HEADER = "mcp-protocol-version"


class McpEndpoint:
    """The ASGI app at ``/mcp``; :meth:`running` is its part of the app's lifespan.

    The MCP SDK is loaded, and its session manager started, with the first request to ``/mcp``: its
    protocol models take about as long to import as the rest of botport, which every process (each
    worker, each ``botport chat``) would otherwise pay at start, MCP or not."""

    def __init__(self, services: Callable[[], Services]) -> None:
        self.services = services
        self.inflight = InFlight()
        self._running = False
        self._closing = False
        self._manager: StreamableHTTPSessionManager | None = None
        self._manager_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._starting = asyncio.Lock()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self._running, self._closing = True, False
        self._stop = asyncio.Event()
        self._starting = asyncio.Lock()  # of this run's event loop
        try:
            yield
        finally:
            # Calls cut by the shutdown: their turns are stopped by the chat service as "shutdown".
            self._running, self._closing = False, True
            self._manager = None
            self._stop.set()
            if self._manager_task is not None:
                task, self._manager_task = self._manager_task, None
                await task

    async def _session_manager(self) -> StreamableHTTPSessionManager:
        """The SDK's session manager, started on first use (new for each run of the lifespan: a
        manager runs once). It runs in a task of its own: its task group must not be entered by a
        request, nor sit around the lifespan's ``yield`` (it would wrap in an ExceptionGroup whatever
        an in-process user of the app raises)."""
        async with self._starting:
            if self._manager is not None:
                return self._manager
            from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

            from botport.mcp.server import BotportMcp

            mcp = BotportMcp(self.services, inflight=self.inflight, shutting_down=lambda: self._closing)
            manager = StreamableHTTPSessionManager(mcp.server, stateless=True)
            started = asyncio.Event()

            async def run() -> None:
                async with manager.run():
                    started.set()
                    await self._stop.wait()

            task = asyncio.create_task(run(), name="mcp session manager")
            waiting = asyncio.ensure_future(started.wait())
            await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if not started.is_set():
                waiting.cancel()
                await task  # it could not start: its error
            self._manager_task, self._manager = task, manager
            return manager

    def mount(self, app: FastAPI) -> None:
        """Serve ``POST /mcp`` (stateless: no GET stream, no DELETE of a session: both 405) and
        describe it in the app's OpenAPI document."""
        app.router.routes.append(Route(PATH, endpoint=self, methods=["POST"]))
        describe = app.openapi

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:
                document = describe()
                document["paths"][PATH] = PATH_ITEM
            return app.openapi_schema or describe()

        app.openapi = openapi  # type: ignore[method-assign]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._running:
            await send_error(scope, send, 503, {"code": "unavailable", "message": "botport is not running"})
            return
        request = Headers(scope=scope)
        try:
            caller = Caller(await self._authenticate(request.get("authorization")))
        except BotportError as exc:
            headers = dict(exc.http_headers)
            if exc.status == 401:
                headers["WWW-Authenticate"] = CHALLENGE + (
                    ', error="invalid_token"' if exc.code == "invalid_api_key" else ""
                )
            await send_error(scope, send, exc.status, exc.to_dict(), headers)
            return
        if _is_modern(request.get(PROTOCOL_VERSION_HEADER)):
            caller.closed = CANCELLED
        scope[CALLER_KEY] = caller
        # What botport refuses before the protocol starts is in botport's error shape, as on every
        # other path; errors within the protocol are JSON-RPC's (the SDK's).
        if not _is_json(request):
            wanted = "send the JSON-RPC message as Content-Type: application/json"
            await send_error(scope, send, 415, {"code": "unsupported_media_type", "message": wanted})
            return
        if not _accepts_both(request):
            wanted = "send Accept: application/json, text/event-stream (an answer may be either)"
            await send_error(scope, send, 406, {"code": "not_acceptable", "message": wanted})
            return
        body = await _read_body(receive)
        message = _message(body)
        if isinstance(message, str):
            await send_error(scope, send, 400, {"code": "invalid_jsonrpc", "message": message})
            return
        self._cancel_named_in(message, caller)
        manager = await self._session_manager()
        await manager.handle_request(scope, _replaying(body, receive, caller), _bodiless_202(send))

    async def _authenticate(self, header: str | None) -> Identity:
        if header is None:
            raise AuthenticationError(
                "an API key is required for /mcp: send 'Authorization: Bearer bp_...' "
                "(make a key with `botport keys create NAME`)",
                code="missing_api_key",
            )
        return await api_key_identity(header, self.services())

    def _cancel_named_in(self, message: dict[str, Any], caller: Caller) -> None:
        """A ``notifications/cancelled`` stops the call it names, if it runs here: the stateless
        transport serves it on a connection of its own, where the SDK knows no such call."""
        if message["method"] != "notifications/cancelled":
            return
        params = message.get("params") or {}
        request_id = params.get("requestId")
        if isinstance(request_id, str | int) and not isinstance(request_id, bool):
            self.inflight.cancel(caller.identity.owner, request_id)


def _message(body: bytes) -> dict[str, Any] | str:
    """The body as one JSON-RPC request or notification, the envelope checked as the OpenAPI document
    describes it (the SDK lets some malformed ones through: a null ``params``, an object as ``id``);
    or what is wrong with it."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return "the body is not JSON"
    if not isinstance(message, dict):
        return "the body must be one JSON-RPC message, an object (no batches)"
    request_id = message.get("id")
    wrong = (
        message.get("jsonrpc") != "2.0"
        or not isinstance(message.get("method"), str)
        or ("id" in message and (not isinstance(request_id, str | int) or isinstance(request_id, bool)))
        or ("params" in message and not isinstance(message["params"], dict))
    )
    if wrong:
        return (
            'a JSON-RPC request is {"jsonrpc": "2.0", "id": string or integer, "method": string, '
            '"params": object}; a notification has no id'
        )
    return message


def _is_modern(version: str | None) -> bool:
    """A request of the 2026 protocol, or later: no handshake, and a closed stream is a cancel.
    (The 2025 protocol's versions are dates of 2024 and 2025; the SDK routes by the same header.)"""
    return version is not None and version[:4].isdigit() and version >= "2026"


def _is_json(headers: Headers) -> bool:
    return headers.get("content-type", "").partition(";")[0].strip().lower() == "application/json"


def _accepts_both(headers: Headers) -> bool:
    """Whether the client takes JSON and an event stream, wildcards included (as the SDK reads it)."""
    types = {part.partition(";")[0].strip().lower() for part in headers.get("accept", "").split(",")}
    return bool(types & {"*/*", "application/*", "application/json"}) and bool(
        types & {"*/*", "text/*", "text/event-stream"}
    )


def _bodiless_202(send: Send) -> Send:
    """The SDK accepts a notification with an empty 202 that says it is JSON: it says nothing."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 202:
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-type"]
            message = {**message, "headers": headers}
        await send(message)

    return sending


async def _read_body(receive: Receive) -> bytes:
    """The whole body (botport's body limit, outside, bounds it: 413)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive, caller: Caller) -> Receive:
    """``receive`` for the SDK: the body read already, then what the client sends next, which is
    only ever its disconnect; that stops the calls of this request (the SDK's 2025 stateless
    transport would let them run on for nobody)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        message = await receive()
        if message["type"] == "http.disconnect":
            caller.disconnected()
        return message

    return replay
