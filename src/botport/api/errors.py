"""The one place where errors become HTTP bodies, in the shape each caller parses:

- botport's own, ``{"error": {"code", "message", ...}}`` (``logid``, ``upstream_code``... as fields):
  the API, the page, the tool endpoint; a failed turn's SSE ``error`` frame carries the inner object;
- OpenAI's, ``{"error": {"message", "type", "param", "code"}}``: every ``/v1/`` path;
- the tutorial's, ``{"error": "text"}``: ``POST /chat``.

Every error starts as botport's *detail* (``BotportError.to_dict()``, a middleware's refusal, a failed
turn, a failed answer) and is shaped by the path it answers. OpenAI's and the tutorial's shapes have
no field for Coze's log id, so it ends their message (:func:`botport.errors.with_logid`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope, Send

from botport.chat.events import TurnFailed
from botport.errors import BotportError, with_logid

log = logging.getLogger(__name__)

Detail = Mapping[str, object]

_TUTORIAL_PATH = "/chat"  # the tutorial's page expects {"error": "text"}
_OPENAI_PREFIX = "/v1/"  # OpenAI clients expect OpenAI's error shape, also for 404, 405 and 413

# OpenAI's error types by status; 5xx are botport's or Coze's failures.
_OPENAI_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "conflict_error",
    429: "rate_limit_error",
}


def openai_error(status: int, detail: Detail) -> dict[str, Any]:
    message = with_logid(str(detail.get("message", "")), detail.get("logid"))
    kind = "api_error" if status >= 500 else _OPENAI_TYPES.get(status, "invalid_request_error")
    code = str(detail.get("code", "error"))
    return {"error": {"message": message, "type": kind, "param": detail.get("param"), "code": code}}


def tutorial_error(detail: Detail) -> dict[str, Any]:
    return {"error": with_logid(str(detail.get("message", "")), detail.get("logid"))}


def error_body(path: str, status: int, detail: Detail) -> dict[str, Any]:
    """The error body in the shape the caller of ``path`` expects."""
    if path == _TUTORIAL_PATH:
        return tutorial_error(detail)
    if path.startswith(_OPENAI_PREFIX):
        return openai_error(status, detail)
    return {"error": dict(detail)}


def turn_failure(event: TurnFailed) -> dict[str, object]:
    """A failed turn as botport's detail: also the data of the SSE ``error`` frame."""
    detail: dict[str, object] = {
        "code": event.code,
        "message": event.message,
        "status": event.http_status,
        "message_id": event.message_id,
        "turn_status": event.status,
    }
    if event.logid:
        detail["logid"] = event.logid
    if event.upstream_code is not None:
        detail["upstream_code"] = event.upstream_code
    return detail


def error_response(
    request: Request, status: int, detail: Detail, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(request.url.path, status, detail), status_code=status, headers=headers)


def exception_response(
    request: Request, exc: BotportError, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """``exc`` in the caller's shape, with the headers it asks for (``Retry-After``)."""
    return error_response(request, exc.status, exc.to_dict(), headers={**(headers or {}), **exc.http_headers})


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    detail: Detail,
    headers: Mapping[str, str] | None = None,
) -> None:
    """An error a middleware answers before any route, in the shapes of :func:`error_response`."""
    data = json.dumps(error_body(scope.get("path", ""), status, detail)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def describe_validation(exc: RequestValidationError) -> tuple[str, str | None]:
    """What is wrong with the request, for a person, and the first parameter at fault."""
    parts, param = [], None
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        param = param or where or None
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request", param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BotportError)
    async def botport_error(request: Request, exc: BotportError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("%s %s -> %s", request.method, request.url.path, exc)
        return exception_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, _ = describe_validation(exc)
        return error_response(request, 422, {"code": "invalid_request", "message": message})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = {"code": code, "message": str(exc.detail)}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: every method of the resource, not only the first route's
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        return error_response(request, exc.status_code, body, headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route answers at this path: Starlette's 405 names only the first route's
    (GET /api/conversations/{id} hides PATCH and DELETE)."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)
