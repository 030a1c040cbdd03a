"""Requests a minute of a browser (its identity cookie) and of its client address: past either, 429
with ``Retry-After`` before any route runs. API-key requests are counted per key where the key is
checked (:func:`botport.api.deps.api_key_identity`), against its quota."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from botport.api.errors import send_error
from botport.errors import TooManyRequestsError

# Cheap and needed to show anything at all, even the "too many requests" message: never counted. The
# widget's script too: every page of the sites that embed it loads it, the chat opened or not.
UNCOUNTED_PREFIXES = ("/static/", "/docs/assets/")
UNCOUNTED_PATHS = frozenset({"/healthz", "/favicon.ico", "/embed.js"})


class RequestLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._counted(scope):
            await self.app(scope, receive, send)
            return
        services = getattr(scope["app"].state, "services", None)
        if services is not None:
            client = scope.get("client")
            state = scope.get("state", {})
            try:
                await services.limits.check_browser_request(
                    state.get("web_identity"), client[0] if client else None
                )
            except TooManyRequestsError as exc:
                await send_error(scope, send, exc.status, exc.to_dict(), exc.http_headers)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _counted(scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if path in UNCOUNTED_PATHS or path.startswith(UNCOUNTED_PREFIXES):
            return False
        return not any(name == b"authorization" for name, _ in scope["headers"])
