"""Errors in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, for the /v1 routes.

The app's global handlers render botport's own shape. The /v1 router uses :class:`OpenAIRoute`,
whose handler also covers dependencies (the API key check) and body validation, so every error a
/v1 route raises reaches an OpenAI client in the shape it parses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from botport.chat.events import TurnFailed
from botport.errors import BotportError

log = logging.getLogger(__name__)

# OpenAI's error types by status; 5xx are botport's or Coze's failures.
_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "conflict_error",
    429: "rate_limit_error",
}


def error_type(status: int) -> str:
    if status >= 500:
        return "api_error"
    return _TYPES.get(status, "invalid_request_error")


def error_body(status: int, code: str, message: str, *, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type(status), "param": param, "code": code}}


class OpenAIError(BotportError):
    """A :class:`BotportError` that names the request parameter at fault."""

    def __init__(self, base: BotportError, *, param: str | None) -> None:
        super().__init__(base.message, status=base.status, code=base.code, retry_after=base.retry_after)
        self.param = param


def with_param(exc: BotportError, param: str) -> OpenAIError:
    return OpenAIError(exc, param=param)


def _message_with_logid(exc: BotportError) -> str:
    logid = getattr(exc, "logid", None)
    return f"{exc.message} (logid {logid})" if logid else exc.message


def error_response(exc: BotportError, *, headers: dict[str, str] | None = None) -> JSONResponse:
    param = exc.param if isinstance(exc, OpenAIError) else None
    body = error_body(exc.status, exc.code, _message_with_logid(exc), param=param)
    return JSONResponse(body, status_code=exc.status, headers={**(headers or {}), **exc.http_headers})


def failed_turn_body(event: TurnFailed) -> dict[str, Any]:
    message = f"{event.message} (logid {event.logid})" if event.logid else event.message
    return error_body(event.http_status, event.code, message)


def stream_error_frame(event: TurnFailed) -> bytes:
    """What OpenAI sends when a stream fails: one ``data:`` line holding an error object."""
    return f"data: {json.dumps(failed_turn_body(event), ensure_ascii=True)}\n\n".encode()


def _describe_validation(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    parts, param = [], None
    for err in errors[:5]:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        where = ".".join(loc)
        param = param or where or None
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request", param


class OpenAIRoute(APIRoute):
    """Renders every BotportError and validation error of the route in OpenAI's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except BotportError as exc:
                if exc.status >= 500:
                    log.warning("%s %s -> %s", request.method, request.url.path, exc)
                return error_response(exc)
            except RequestValidationError as exc:
                message, param = _describe_validation(exc)
                return JSONResponse(error_body(400, "invalid_request", message, param=param), status_code=400)

        return guarded
