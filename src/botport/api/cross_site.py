"""Cross-site request forgery: a page on another site (another port of this host included) must not
make a visitor's browser act with the visitor's cookie.

An unsafe request (POST, PUT, PATCH, DELETE) that carries no ``Authorization`` header is authenticated
by the identity cookie, which the browser attaches whoever made the page. It is refused (403) when
the browser says it comes from elsewhere:

- ``Sec-Fetch-Site`` (every current browser sends it) is anything but ``same-origin`` or ``none``
  (typed in the address bar, a bookmark): ``same-site`` is refused too, since another port or a sibling
  subdomain is another origin;
- otherwise ``Origin``, when present, is not this site's: the configured public URL's origin, or the
  ``Host`` the request came to.

A request with neither header (curl, a script) is not a browser's forgery and passes. API-key requests
are never checked: no page can make a browser send an ``Authorization`` header of its choosing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from botport.api.errors import send_error

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TRUSTED_FETCH_SITES = frozenset({b"same-origin", b"none"})


class CrossSiteGuardMiddleware:
    def __init__(self, app: ASGIApp, *, public_url: str | None) -> None:
        self.app = app
        self.public_origin = _origin(public_url) if public_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS and self._forged(scope):
            await _refuse(scope, send)
            return
        await self.app(scope, receive, send)

    def _forged(self, scope: Scope) -> bool:
        headers = dict(scope["headers"])
        if b"authorization" in headers:
            return False
        fetch_site = headers.get(b"sec-fetch-site")
        if fetch_site is not None:
            return fetch_site.lower() not in TRUSTED_FETCH_SITES
        origin = headers.get(b"origin")
        if origin is None:
            return False
        claimed = origin.decode("latin-1").lower()
        if self.public_origin is not None and claimed == self.public_origin:
            return False
        host = headers.get(b"host", b"").decode("latin-1").lower()
        # The scheme is left out: behind a proxy that ends TLS, the browser's https is http here.
        return not host or urlsplit(claimed).netloc != host


def _origin(url: str) -> str:
    parts = urlsplit(url.strip().lower())
    return f"{parts.scheme}://{parts.netloc}"


async def _refuse(scope: Scope, send: Send) -> None:
    message = "cross-site request refused: this action must come from botport's own page (or use an API key)"
    await send_error(scope, send, 403, {"code": "cross_site_request", "message": message})
