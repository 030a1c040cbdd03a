"""Request body limits, enforced while the body streams in: its size (a large upload is never
buffered, 413) and its pace (a body that stops short of its Content-Length, or trickles in, is
answered 408 after BODY_TIMEOUT seconds without a byte instead of holding the connection for ever).

Every route has the same size limit (``max_bytes``) but the few that take attachments
(:class:`RouteLimit`: ``POST /api/files``, the edges that carry ``data:`` URLs in JSON), which have a
larger one of their own and say in its error what was too large."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botport.api.errors import send_error

BODY_TIMEOUT = 30.0  # seconds a request body may go without sending a byte


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """A larger body limit for one method and path, and the error past it."""

    method: str
    path: str
    max_bytes: int
    code: str = "payload_too_large"
    message: str = ""  # default: "the request body is larger than <max_bytes> bytes"


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class BodySizeLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        body_timeout: float = BODY_TIMEOUT,
        routes: Sequence[RouteLimit] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout
        self.routes = {(r.method, r.path): r for r in routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.routes.get((scope.get("method", ""), scope.get("path", "").rstrip("/") or "/"))
        limit = route or RouteLimit("", "", self.max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit.max_bytes:
            await self._reject(scope, send, limit)
            return
        received = 0
        started = False
        exceeded: type[Exception] | None = None
        body_done = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded, body_done
            if body_done:  # after the body: only a disconnect comes, whenever it does (streams wait)
                return await receive()
            try:
                async with asyncio.timeout(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                exceeded = _TooSlow
                raise _TooSlow from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    exceeded = _TooLarge
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # The app caught _TooLarge itself (FastAPI answers 400 "error parsing the body"):
                # answer 413 instead of its response.
                if not started and message["type"] == "http.response.start":
                    started = True
                    await self._reject(scope, send, limit, exceeded)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (_TooLarge, _TooSlow) as exc:
            if not started:
                await self._reject(scope, send, limit, type(exc))

    async def _reject(
        self, scope: Scope, send: Send, limit: RouteLimit, reason: type[Exception] | None = _TooLarge
    ) -> None:
        if reason is _TooSlow:
            status, code = 408, "request_timeout"
            message = f"the request body stopped arriving (nothing for {self.body_timeout:g} s)"
        else:
            status, code = 413, limit.code
            message = limit.message or f"the request body is larger than {limit.max_bytes} bytes"
        # The rest of the body is not read: the connection cannot carry another request.
        await send_error(scope, send, status, {"code": code, "message": message}, {"Connection": "close"})
