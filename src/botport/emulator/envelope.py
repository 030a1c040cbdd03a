"""Coze's JSON envelope ``{"code": 0, "msg": "", "data": ...}`` and its error form.

Errors use ``code > 0`` with HTTP 200, like Coze (authentication failures answer 401), and carry
``detail.logid``. The codes below are the ones Coze documents; 4200 (not found) is the least certain.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from botport.emulator.sse import dumps

BAD_REQUEST = 4000
BUSY = 4016  # the conversation already has a running chat
AUTH_FAILED = 4100
CANNOT_CANCEL = 4104
NOT_FOUND = 4200
INTERNAL = 5000

LOGID_SCOPE_KEY = "botport.emulator.logid"


class EmulatorError(Exception):
    """Raised by routes; rendered as an error envelope by the app's exception handler."""

    def __init__(self, code: int, msg: str, *, http_status: int = 200) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.http_status = http_status


class JSONResponse(Response):
    """JSON with raw UTF-8 text, the way Coze sends it."""

    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return dumps(content).encode()


def logid_of(request: Request) -> str:
    return str(request.scope.get(LOGID_SCOPE_KEY, ""))


def ok(data: object, **extra: object) -> JSONResponse:
    return JSONResponse({"code": 0, "msg": "", "data": data, **extra})


def error_body(code: int, msg: str, logid: str) -> dict[str, object]:
    return {"code": code, "msg": msg, "detail": {"logid": logid}}


def error_response(request: Request, exc: Exception) -> JSONResponse:
    """The app-wide handler for :class:`EmulatorError`."""
    assert isinstance(exc, EmulatorError)
    emulator = getattr(request.app.state, "emulator", None)
    msg = exc.msg + (emulator.echo(request) if emulator is not None else "")
    return JSONResponse(error_body(exc.code, msg, logid_of(request)), status_code=exc.http_status)
