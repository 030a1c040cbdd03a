"""The chat widget on other sites (docs/embed.md): its script, its page, and what they ask botport.

- ``GET /embed.js``: the host page's script (``web/embed.js``); it draws the launcher and the panel.
- ``GET /embed/{slug}/config``: whether the page at ``Origin`` may show bot ``slug``'s widget, readable
  (CORS) by that origin only; the script draws nothing when refused.
- ``GET /embed/{slug}?parent=<origin>``: the page in the widget's iframe, the chat page itself, which
  only ``parent`` may frame (CSP ``frame-ancestors``), and only when it is in the bot's
  ``embed_origins``. Any other page (and every other path) has ``frame-ancestors 'none'``.
- ``POST /embed/{slug}/session``: the iframe's identity (:mod:`botport.embed_tokens`), a token it sends
  in the ``X-Botport-Embed`` header: an anonymous visitor's (kept for the next visit in a partitioned
  cookie, which only this route reads), or a user's that the host site's server signed.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from botport.api.deps import ServicesDep
from botport.api.errors import exception_response
from botport.api.page_assets import Asset, asset_response
from botport.api.responses import ErrorBody, errors
from botport.embed_tokens import (
    ANONYMOUS_SECONDS,
    EMBED_COOKIE,
    MAX_TOKEN_CHARS,
    MAX_USER_ID_CHARS,
    EmbedClaims,
    EmbedTokens,
    user_hash_matches,
    valid_user_id,
)
from botport.errors import BadRequestError, BotportError, NotFoundError
from botport.security_headers import embed_policy
from botport.settings import BotConfig, Settings, embed_origin

MAX_SITE_CHARS = 300


class EmbedConfig(BaseModel):
    bot: str = Field(description="The bot's slug.")
    name: str
    greeting: str
    signed_users_only: bool = Field(
        description="Only users the site's server signed may chat (BOTPORT_WEB_ACCESS=passcode)."
    )
    identity: bool = Field(description="The site has a secret (BOTPORT_EMBED_SECRETS): users can be signed.")


class EmbedSessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    site: Annotated[str, Field(max_length=MAX_SITE_CHARS, description="The embedding page's origin.")]
    token: Annotated[
        str | None, Field(max_length=MAX_TOKEN_CHARS, description="An anonymous token issued earlier.")
    ] = None
    user_id: Annotated[
        str | None, Field(max_length=MAX_USER_ID_CHARS, description="The site's user id (signed users).")
    ] = None
    user_hash: Annotated[
        str | None, Field(max_length=128, description="HMAC-SHA256 of user_id with the site's secret, hex.")
    ] = None


class EmbedSession(BaseModel):
    token: str = Field(description="Send it as the X-Botport-Embed header on every API call.")
    expires_at: int = Field(description="Unix seconds; then start a new session.")
    kind: Literal["anonymous", "user"]
    user_id: str | None = None


def _embeddable(services: ServicesDep, slug: str) -> BotConfig:
    bot = services.bots.get(slug)
    if not bot.embed_origins:
        raise NotFoundError(
            f"bot {slug!r} may not be embedded on other sites (it has no embed_origins)",
            code="not_embeddable",
        )
    return bot


def _allowed_site(bot: BotConfig, given: str) -> str:
    try:
        site = embed_origin(given)
    except ValueError:
        raise BadRequestError(
            f"not a site's origin (scheme://host[:port]): {given[:100]!r}", code="invalid_site"
        ) from None
    if site not in bot.embed_origins:
        raise BotportError(
            f"{site} may not embed bot {bot.slug!r}: add it to the bot's embed_origins",
            status=403,
            code="site_not_allowed",
        )
    return site


def _open_to(settings: Settings, *, signed_user: bool) -> None:
    """The widget follows BOTPORT_WEB_ACCESS: keys closes it, passcode lets only signed users in."""
    if settings.web_access == "keys":
        raise BotportError(
            "this server's web chat is closed to visitors (BOTPORT_WEB_ACCESS=keys)",
            status=403,
            code="embed_closed",
        )
    if settings.web_access == "passcode" and not signed_user:
        raise BotportError(
            "this chat is private: only users signed in on this site may use it",
            status=403,
            code="signed_users_only",
        )


def _cors(origin: str | None) -> dict[str, str]:
    headers = {"Vary": "Origin", "Cache-Control": "no-store"}
    with contextlib.suppress(ValueError):  # not an origin ("null", none): no page can read the answer
        headers["Access-Control-Allow-Origin"] = embed_origin(origin)
    return headers


def _session_cookie(token: str) -> str:
    """The anonymous token, for the next visit: a partitioned cookie (CHIPS), kept per embedding site
    even where third-party cookies are blocked; Secure, so only over https (and on loopback)."""
    return (
        f"{EMBED_COOKIE}={token}; Path=/; Max-Age={ANONYMOUS_SECONDS}; HttpOnly; Secure; SameSite=None; "
        "Partitioned"
    )


def _signed_user(body: EmbedSessionCreate, site: str, settings: Settings) -> str:
    if body.user_id is None or body.user_hash is None:
        raise BadRequestError("a signed user needs both user_id and user_hash", code="invalid_user")
    if not valid_user_id(body.user_id):
        raise BadRequestError(
            f"a user id is 1-{MAX_USER_ID_CHARS} printable characters, without spaces around it",
            code="invalid_user",
        )
    secret = settings.embed_secrets.get(site)
    if secret is None:
        raise BotportError(
            f"{site} has no secret to sign users with (BOTPORT_EMBED_SECRETS)",
            status=403,
            code="identity_not_configured",
        )
    if not user_hash_matches(secret.get_secret_value(), body.user_id, body.user_hash):
        raise BotportError(
            "the user's signature (user_hash) does not match: it is HMAC-SHA256 of the user id with this "
            "site's secret, in hex",
            status=403,
            code="invalid_user_hash",
        )
    return body.user_id


def _earlier_visitor(tokens: EmbedTokens, site: str, *candidates: str | None) -> EmbedClaims | None:
    """The anonymous visitor a token given back (the iframe's storage, the partitioned cookie) names."""
    for token in candidates:
        claims = tokens.read(token) if token else None
        if claims is not None and claims.kind == "embed" and claims.site == site:
            return claims
    return None


def embed_router(page: Asset, script: Asset) -> APIRouter:
    """The widget's routes; ``page`` is the chat page (``index.html``), ``script`` ``embed.js``."""
    router = APIRouter(tags=["embed"], responses=errors(ErrorBody, 400, 403, 404, 422, 429))

    @router.api_route("/embed.js", methods=["GET", "HEAD"], include_in_schema=False)
    async def embed_script(request: Request) -> Response:
        return asset_response(request, script)

    @router.get("/embed/{slug}/config", response_model=EmbedConfig, summary="May this site show the widget")
    async def embed_config(slug: str, request: Request, services: ServicesDep) -> Response:
        """Asked by ``embed.js`` on the host page: readable (CORS) only by an origin in the bot's
        ``embed_origins``. A refusal is readable too, so that the script can say why in the console."""
        origin = request.headers.get("origin") or ""
        cors = _cors(origin)
        try:
            bot = _embeddable(services, slug)
            site = _allowed_site(bot, origin)
            _open_to(services.settings, signed_user=True)
        except BotportError as exc:
            return exception_response(request, exc, headers=cors)
        config = EmbedConfig(
            bot=bot.slug,
            name=bot.name,
            greeting=bot.greeting,
            signed_users_only=services.settings.web_access == "passcode",
            identity=site in services.settings.embed_secrets,
        )
        return JSONResponse(config.model_dump(), headers=cors)

    @router.api_route("/embed/{slug}", methods=["GET", "HEAD"], include_in_schema=False)
    async def embed_page(
        slug: str, request: Request, services: ServicesDep, parent: Annotated[str, Query(max_length=300)] = ""
    ) -> Response:
        site = _allowed_site(_embeddable(services, slug), parent)
        response = asset_response(request, page)
        response.headers["Content-Security-Policy"] = embed_policy(site)
        return response

    @router.post(
        "/embed/{slug}/session",
        response_model=EmbedSession,
        summary="Start the widget's session",
        responses={403: {"model": ErrorBody, "description": "Site not allowed, chat closed, bad user_hash"}},
    )
    async def start_session(
        slug: str, body: EmbedSessionCreate, request: Request, services: ServicesDep
    ) -> Response:
        """The identity of the widget's iframe: a signed user's (``user_id`` + ``user_hash``), else an
        anonymous visitor's, the same as last time when its token comes back."""
        settings = services.settings
        site = _allowed_site(_embeddable(services, slug), body.site)
        tokens = EmbedTokens(services.signer, settings, services.bots)
        signed = body.user_id is not None or body.user_hash is not None
        _open_to(settings, signed_user=signed)
        if signed:
            user_id = _signed_user(body, site, settings)
            token, claims = tokens.issue("user", slug, site, user_id)
            session = EmbedSession(token=token, expires_at=claims.expires, kind="user", user_id=user_id)
            return JSONResponse(session.model_dump(), headers={"Cache-Control": "no-store"})
        earlier = _earlier_visitor(tokens, site, body.token, request.cookies.get(EMBED_COOKIE))
        token, claims = tokens.issue("embed", slug, site, earlier.subject if earlier else None)
        session = EmbedSession(token=token, expires_at=claims.expires, kind="anonymous")
        headers = {"Cache-Control": "no-store", "Set-Cookie": _session_cookie(token)}
        return JSONResponse(session.model_dump(), headers=headers)

    return router
