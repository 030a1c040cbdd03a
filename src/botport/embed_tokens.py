"""Who a visitor of the chat widget on another site is (docs/embed.md).

The widget's iframe (``/embed/{slug}``) is a third-party frame on the host site: browsers keep botport's
SameSite cookie out of it. So its identity is a token it holds and sends in the ``X-Botport-Embed``
header on every API call. A header is never attached by the browser on its own, so no other page can
make a visitor's browser act with it (no cross-site request forgery), whatever cookies do.

A token is signed with the server's secret and names the bot and the site it was issued for. Two kinds:

- ``embed``: an anonymous visitor (a random id), like a browser with botport's cookie;
- ``user``: a user of the host site, whose server vouched for the user id with an HMAC-SHA256 signed
  with the site's secret (``BOTPORT_EMBED_SECRETS``): the same user on any device has one history.

A token stops working when its site leaves the bot's ``embed_origins`` (or, for a user, when the site's
secret is removed), and when it expires: a user's after :data:`USER_SECONDS` (the iframe asks again with
the user hash the host page gives it), an anonymous one after :data:`ANONYMOUS_SECONDS`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from botport.bots import BotRegistry
from botport.identity import Identity, IdentitySigner
from botport.settings import Settings

EMBED_HEADER = "X-Botport-Embed"
EMBED_COOKIE = "__Host-botport_embed"  # a partitioned cookie: the anonymous token, for the next visit
ANONYMOUS_SECONDS = 400 * 24 * 3600
USER_SECONDS = 12 * 3600
MAX_USER_ID_CHARS = 128
MAX_TOKEN_CHARS = 2048
_VERSION = "e1"
_PURPOSE = b"embed-token"

EmbedKind = Literal["embed", "user"]


@dataclass(frozen=True, slots=True)
class EmbedClaims:
    kind: EmbedKind
    slug: str  # the bot it was issued for
    site: str  # the origin of the page that embeds it
    subject: str  # anonymous: a random id; user: the site's own user id
    expires: int  # unix seconds

    @property
    def identity_id(self) -> str:
        """The id of its :class:`Identity`: a user's is the same for the same (site, user id)."""
        return self.subject if self.kind == "embed" else f"{site_tag(self.site)}:{self.subject}"


def site_tag(site: str) -> str:
    """A short, fixed-length name of a site, for the identity of its users (``owner`` stays short)."""
    return hashlib.sha256(site.encode()).hexdigest()[:16]


def valid_user_id(user_id: str) -> bool:
    return 0 < len(user_id) <= MAX_USER_ID_CHARS and user_id.isprintable() and user_id == user_id.strip()


def user_hash(secret: str, user_id: str) -> str:
    """What the host site's server computes: HMAC-SHA256 of the user id with the site's secret, hex."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def user_hash_matches(secret: str, user_id: str, given: str) -> bool:
    if not given.isascii():
        return False
    return hmac.compare_digest(user_hash(secret, user_id).encode(), given.strip().lower().encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class EmbedTokens:
    """Issues and checks the widget's tokens for this server's bots and sites."""

    def __init__(
        self,
        signer: IdentitySigner,
        settings: Settings,
        bots: BotRegistry,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.settings = settings
        self.bots = bots
        self.clock = clock

    def issue(
        self, kind: EmbedKind, slug: str, site: str, subject: str | None = None
    ) -> tuple[str, EmbedClaims]:
        """A new token (a new anonymous visitor when ``subject`` is None) and what it says."""
        lifetime = USER_SECONDS if kind == "user" else ANONYMOUS_SECONDS
        claims = EmbedClaims(
            kind=kind,
            slug=slug,
            site=site,
            subject=subject if subject is not None else secrets.token_urlsafe(18),
            expires=int(self.clock()) + lifetime,
        )
        fields = [_VERSION, claims.kind, claims.slug, claims.site, claims.subject, claims.expires]
        payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
        return f"{_VERSION}.{payload}.{self._sign(payload)}", claims

    def _sign(self, payload: str) -> str:
        return _b64(self.signer.mac(_PURPOSE, payload))

    def read(self, token: str) -> EmbedClaims | None:
        """What a token says, if this server signed it and it has not expired (else None)."""
        if len(token) > MAX_TOKEN_CHARS or not token.isascii():
            return None
        version, _, rest = token.partition(".")
        payload, _, signature = rest.partition(".")
        if version != _VERSION or not payload or not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            fields = json.loads(_unb64(payload))
        except (binascii.Error, ValueError):
            return None
        if not (isinstance(fields, list) and len(fields) == 6 and fields[0] == _VERSION):
            return None
        _, kind, slug, site, subject, expires = fields
        if kind not in ("embed", "user") or not all(isinstance(f, str) for f in (slug, site, subject)):
            return None
        if not isinstance(expires, int) or expires <= self.clock():
            return None
        return EmbedClaims(kind=kind, slug=slug, site=site, subject=subject, expires=expires)

    def still_allowed(self, claims: EmbedClaims) -> bool:
        """The site may still embed the bot (and, for a user, still has its secret)."""
        bot = next((b for b in self.bots if b.slug == claims.slug), None)
        if bot is None or claims.site not in bot.embed_origins:
            return False
        return claims.kind == "embed" or claims.site in self.settings.embed_secrets

    def verify(self, token: str) -> EmbedClaims | None:
        claims = self.read(token)
        return claims if claims is not None and self.still_allowed(claims) else None

    def identity(self, token: str, address: str | None) -> Identity | None:
        """The identity a request's ``X-Botport-Embed`` header stands for, or None when it is not valid
        (for :class:`botport.identity.BrowserIdentityMiddleware`)."""
        claims = self.verify(token)
        if claims is None:
            return None
        return Identity(claims.kind, claims.identity_id, address=address)
