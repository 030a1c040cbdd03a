"""Request body limits, enforced while the body streams in: its size (a large upload is never
buffered, 413) and its pace (a body that stops short of its Content-Length, or trickles in, is
answered 408 after BODY_TIMEOUT seconds without a byte instead of holding the connection for ever)."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botport.api.errors import send_error

BODY_TIMEOUT = 30.0  # seconds a request body may go without sending a byte


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, body_timeout: float = BODY_TIMEOUT) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send)
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
                if received > self.max_bytes:
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
                    await self._reject(scope, send, exceeded)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (_TooLarge, _TooSlow) as exc:
            if not started:
                await self._reject(scope, send, type(exc))

    async def _reject(self, scope: Scope, send: Send, reason: type[Exception] | None = _TooLarge) -> None:
        if reason is _TooSlow:
            status, code = 408, "request_timeout"
            message = f"the request body stopped arriving (nothing for {self.body_timeout:g} s)"
        else:
            status, code = 413, "payload_too_large"
            message = f"the request body is larger than {self.max_bytes} bytes"
        # The rest of the body is not read: the connection cannot carry another request.
        await send_error(scope, send, status, {"code": code, "message": message}, {"Connection": "close"})
