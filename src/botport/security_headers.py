"""Security headers on every HTTP response, as a pure ASGI middleware (it never buffers a stream).

The strict Content-Security-Policy lets the page load only its own scripts, styles and data; with no
inline script or style allowed, a bot answer that slipped past the sanitizer still could not run code.
The API docs (``/docs``: Swagger UI served from the package, started by a script file of ours) get
the same policy; nothing may frame any page (``frame-ancestors 'none'``), but the chat widget's page
``/embed/{slug}``, which its route answers with :func:`embed_policy`: framed by the one site that embeds
it, if that site is in the bot's ``embed_origins`` (docs/embed.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "SecurityHeadersMiddleware", "embed_policy"]


def _policy(frame_ancestors: str, images: str = "'self' data:") -> str:
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {images}; "
        f"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors {frame_ancestors}; "
        "form-action 'self'"
    )


CONTENT_SECURITY_POLICY = _policy("'none'")


def embed_policy(site: str) -> str:
    """The policy of the chat widget's page embedded by ``site``: an origin the settings validated
    (:func:`botport.settings.embed_origin`: ``scheme://host[:port]``, nothing a policy could misread).
    Its images may be ``blob:`` URLs: its identity is a header, which an ``<img>`` cannot send, so the
    page fetches an attachment's bytes itself (only its own script can make such a URL)."""
    if not site or any(ch in site for ch in " ;,'\"\r\n*"):
        raise ValueError(f"not an origin: {site!r}")
    return _policy(site, images="'self' data: blob:")


_COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_CSP_HEADER = (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii"))
DEFAULT_CSP_EXEMPT_PATHS: tuple[str, ...] = ()  # a path here gets no CSP (none needs it today)


class SecurityHeadersMiddleware:
    """Add CSP, ``nosniff`` and ``no-referrer`` to every HTTP response.

    ``csp_exempt_paths`` are exact paths that get no CSP (none by default).
    A header the application already set is left alone.
    """

    def __init__(self, app: ASGIApp, *, csp_exempt_paths: Iterable[str] = DEFAULT_CSP_EXEMPT_PATHS) -> None:
        self.app = app
        self.csp_exempt_paths = frozenset(csp_exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _COMMON_HEADERS
        if scope.get("path", "") not in self.csp_exempt_paths:
            extra = (*_COMMON_HEADERS, _CSP_HEADER)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
