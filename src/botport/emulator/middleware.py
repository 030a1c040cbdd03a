"""ASGI middleware: every response gets a fresh ``x-tt-logid``; a request's ``http_status`` fault
answers before anything else (as a proxy in front of Coze would)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botport.emulator.envelope import LOGID_SCOPE_KEY
from botport.emulator.faults import FAULT_HEADER, FaultHeaderError, parse_fault_header
from botport.emulator.ids import new_logid
from botport.emulator.streaming import proxy_error_page


class EmulatorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        logid = new_logid()
        scope[LOGID_SCOPE_KEY] = logid

        async def send_with_logid(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-tt-logid", logid.encode())]
            await send(message)

        status = _http_status_fault(Headers(scope=scope).get(FAULT_HEADER))
        if status is not None:
            await proxy_error_page(status)(scope, receive, send_with_logid)
            return
        await self.app(scope, receive, send_with_logid)


def _http_status_fault(header: str | None) -> int | None:
    try:
        status = parse_fault_header(header).get("http_status")
    except FaultHeaderError:
        return None  # the route reports a malformed header as a 4000 envelope
    return int(status) if status else None
