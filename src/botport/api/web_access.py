"""Who may use the web chat (``BOTPORT_WEB_ACCESS``): anyone (``public``), a browser that gave the
shared passcode (``passcode``: a team's private bot), or nobody without an API key (``keys``).

The chat widget on other sites (docs/embed.md) follows: ``public``, anyone; ``passcode``, only the
users a site's server signed for (an anonymous visitor cannot give a passcode in a third-party frame);
``keys``, nobody.

The passcode is exchanged once (:mod:`botport.api.access`) for a pass cookie bound to the browser's
identity and to the passcode: a new passcode turns every pass away. API keys are never affected.
"""

from __future__ import annotations

import hmac

from fastapi import Request

from botport.errors import AuthenticationError
from botport.identity import Identity, IdentitySigner, access_cookie_name
from botport.settings import Settings

# Set by `botport chat` on the server itself, in-process: the operator is always let in.
OPERATOR = "botport.operator"
CLOSED = "this server's web chat is closed: programs use it with an API key ('Authorization: Bearer bp_...')"


def served_over_https(request: Request, settings: Settings) -> bool:
    return settings.https_site or request.url.scheme == "https"


def admitted(request: Request, settings: Settings, signer: IdentitySigner, identity: Identity | None) -> bool:
    """Whether this browser may use the web chat."""
    if settings.web_access == "public" or OPERATOR in request.scope.get("extensions", {}):
        return True
    # A user of a site that embeds the chat, vouched for by its server (docs/embed.md): no passcode.
    if settings.web_access == "passcode" and identity is not None and identity.kind == "user":
        return True
    if settings.web_access == "keys" or identity is None or settings.web_passcode is None:
        return False
    given = request.cookies.get(access_cookie_name(https=served_over_https(request, settings)), "")
    expected = signer.access_pass(identity.id, settings.web_passcode.get_secret_value())
    return hmac.compare_digest(given.encode(), expected.encode())


def require_web_access(
    request: Request, settings: Settings, signer: IdentitySigner, identity: Identity
) -> None:
    if admitted(request, settings, signer, identity):
        return
    if settings.web_access == "keys":
        raise AuthenticationError(CLOSED, code="api_key_required")
    raise AuthenticationError(
        "this chat needs its passcode first (POST /api/access)", code="passcode_required"
    )
