"""The /v1 routes' errors: the parameter at fault, and a route class that shapes them all.

The app's global handlers shape every error by its path (:mod:`botport.api.errors`). The /v1 router
uses :class:`OpenAIRoute`, whose handler also covers dependencies (the API key check) and body
validation, answered 400 as OpenAI does (422 is an Idempotency-Key reused), so every error a /v1
route raises reaches an OpenAI client in the shape it parses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from botport.api.errors import describe_validation, error_response, exception_response
from botport.errors import BotportError

log = logging.getLogger(__name__)


class OpenAIError(BotportError):
    """A :class:`BotportError` that names the request parameter at fault."""

    def __init__(self, base: BotportError, *, param: str | None) -> None:
        super().__init__(base.message, status=base.status, code=base.code, retry_after=base.retry_after)
        self.param = param

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "param": self.param}


def with_param(exc: BotportError, param: str) -> OpenAIError:
    return OpenAIError(exc, param=param)


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
                return exception_response(request, exc)
            except RequestValidationError as exc:
                message, param = describe_validation(exc)
                detail = {"code": "invalid_request", "message": message, "param": param}
                return error_response(request, 400, detail)

        return guarded
