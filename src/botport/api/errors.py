"""The one place where exceptions become HTTP responses: ``{"error": {"code", "message", ...}}``."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope, Send

from botport.api.openai_errors import error_body as openai_error_body
from botport.errors import BotportError

log = logging.getLogger(__name__)

_TUTORIAL_PATH = "/chat"  # the tutorial's page expects {"error": "text"}
_OPENAI_PREFIX = "/v1/"  # OpenAI clients expect OpenAI's error shape, also for 404, 405 and 413


def error_payload(path: str, status: int, body: Mapping[str, object]) -> dict[str, object]:
    """The error body in the shape the caller of ``path`` expects."""
    if path == _TUTORIAL_PATH:
        return {"error": str(body.get("message", ""))}
    if path.startswith(_OPENAI_PREFIX):
        return openai_error_body(status, str(body.get("code", "error")), str(body.get("message", "")))
    return {"error": dict(body)}


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    body: Mapping[str, object],
    headers: Mapping[str, str] | None = None,
) -> None:
    """An error a middleware answers before any route, in the shapes of :func:`error_response`."""
    data = json.dumps(error_payload(scope.get("path", ""), status, body)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def error_response(
    request: Request, status: int, body: Mapping[str, object], *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_payload(request.url.path, status, body), status_code=status, headers=headers)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BotportError)
    async def botport_error(request: Request, exc: BotportError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("%s %s -> %s", request.method, request.url.path, exc)
        return error_response(request, exc.status, exc.to_dict(), headers=exc.http_headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        body = {"code": "invalid_request", "message": _describe_validation(exc)}
        return error_response(request, 422, body)

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
