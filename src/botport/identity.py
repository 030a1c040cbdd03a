"""Who is calling: an anonymous browser identity in a signed cookie, an API key, or a visitor of the
chat widget on another site (a token in the ``X-Botport-Embed`` header, :mod:`botport.embed_tokens`).

The Coze ``user_id`` is derived from the identity here, on the server, so a client can never act as
another user on Coze's side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botport.private_files import private_dir
from botport.store.records import KeyQuota

COOKIE_NAME = "botport_id"
HOST_COOKIE_NAME = "__Host-botport_id"  # on https: see BrowserIdentityMiddleware
ACCESS_COOKIE_NAME = "botport_access"  # the web chat's passcode was given (web_access = passcode)
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie


EMBED_HEADER = b"x-botport-embed"
# The widget's own paths (its script, its page and what that page asks before it has a token): they
# need no cookie identity, and a cookie set in a third-party frame would be thrown away anyway.
EMBED_PATHS = ("/embed.js", "/embed/")


@dataclass(frozen=True, slots=True)
class Identity:
    """``web``: a browser (botport's cookie); ``key``: an API key; ``embed``: an anonymous visitor of the
    chat widget on another site; ``user``: a user of such a site, vouched for by the site's server (the
    same for that site's user id on every device)."""

    kind: Literal["web", "key", "embed", "user"]
    id: str
    # Not part of who it is (owner, equality): what its limits are counted by and against.
    address: str | None = field(default=None, compare=False)  # a browser's client address
    quota: KeyQuota | None = field(default=None, compare=False)  # an API key's own limits

    @property
    def owner(self) -> str:
        """The string stored as a conversation's owner."""
        return f"{self.kind}:{self.id}"


def load_or_create_secret(data_dir: Path) -> bytes:
    """The cookie-signing key: generated once and kept (mode 0600) in the data directory."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip().encode()
    private_dir(data_dir)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key.encode()


class IdentitySigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, purpose: bytes, value: str) -> bytes:
        return hmac.new(self._secret, purpose + b"\0" + value.encode(), hashlib.sha256).digest()

    def mac(self, purpose: bytes, value: str) -> bytes:
        """A MAC of ``value`` for ``purpose`` (each purpose its own, so no value passes for another's)."""
        return self._mac(b"ext:" + purpose, value)

    def sign(self, identity_id: str) -> str:
        sig = base64.urlsafe_b64encode(self._mac(b"cookie", identity_id)[:18]).decode()
        return f"{identity_id}.{sig}"

    def unsign(self, cookie: str) -> str | None:
        identity_id, _, sig = cookie.partition(".")
        if not identity_id or not sig or not cookie.isascii():  # a signed value is ASCII, always
            return None
        return identity_id if hmac.compare_digest(self.sign(identity_id), cookie) else None

    def access_pass(self, identity_id: str, passcode: str) -> str:
        """Proof that this browser gave the web chat's passcode: bound to its identity and to the
        passcode (a new passcode turns every pass away)."""
        digest = hashlib.sha256(passcode.encode()).hexdigest()
        mac = self._mac(b"access", f"{identity_id}\0{digest}")
        return base64.urlsafe_b64encode(mac[:18]).decode()

    def coze_user_id(self, identity: Identity) -> str:
        """A stable, opaque Coze user id: the same identity always maps to the same id."""
        return "bp-" + self._mac(b"coze-user", identity.owner).hex()[:32]


def cookie_name(*, https: bool) -> str:
    return HOST_COOKIE_NAME if https else COOKIE_NAME


def access_cookie_name(*, https: bool) -> str:
    return f"__Host-{ACCESS_COOKIE_NAME}" if https else ACCESS_COOKIE_NAME


def _cookie_values(scope: Scope, name: str) -> list[str]:
    """Every value sent for cookie ``name``: a browser sends one per (domain, path) it holds."""
    values = []
    for header, value in scope.get("headers", []):
        if header == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == name:
                    values.append(val)
    return values


def tossed_cookie_removals(scope: Scope, name: str) -> list[str]:
    """``Set-Cookie`` values that delete every other ``name`` cookie this request could carry.

    A cookie is sent with a request when its path is a prefix of the request's path and its domain
    this host or a parent of it. botport's own is host-only at ``Path=/``; any other was set by someone
    else (another port of this host with ``Path=/api``, a sibling subdomain with ``Domain=``), and a
    deletion must name the same domain and path to reach it.
    """
    path = scope.get("path", "/")
    segments = [s for s in path.split("/") if s][:8]
    paths = []
    for depth in range(1, len(segments) + 1):
        prefix = "/" + "/".join(segments[:depth])
        paths += [prefix, prefix + "/"]
    host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1").lower()
    labels = host.partition(":")[0].split(".")  # an IPv6 literal ("[::1]:80") has no domains
    is_name = len(labels) > 1 and not labels[-1].isdigit() and not host.startswith("[")
    # this host and its parents but the last label (a browser ignores a Domain= that is a public suffix)
    domains = [".".join(labels[i:]) for i in range(len(labels) - 1)] if is_name else []
    gone = f"{name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
    removals = [f"{gone}; Path={p}" for p in paths]
    for domain in domains:
        removals += [f"{gone}; Path={p}; Domain={domain}" for p in ["/", *paths]]
    return removals


class BrowserIdentityMiddleware:
    """Gives every browser an anonymous identity in a signed, HttpOnly, SameSite cookie.

    Requests with an ``Authorization`` header are API calls and get no cookie. A request with an
    ``X-Botport-Embed`` header (the chat widget's frame) is the identity its token stands for, or none
    (``scope["state"]["embed_token_invalid"]``: the routes refuse it); it gets no cookie either, nor do
    the widget's own paths (:data:`EMBED_PATHS`). The identity is put in
    ``scope["state"]["web_identity"]`` for the routes.

    On https the cookie is ``__Host-botport_id``: the browser keeps it only if it is Secure, host-only
    and at ``Path=/``, so no other site — a sibling subdomain, a page on http — can plant one that
    shadows it (cookie tossing). A request that carries more than one identity cookie is not served
    as either: ``scope["state"]["identity_conflict"]`` is set for the routes to refuse it, and the
    answer deletes every cookie of that name but botport's own, so that the next request is clean.
    """

    def __init__(
        self,
        app: ASGIApp,
        signer: IdentitySigner,
        *,
        secure: bool = False,
        embed: Callable[[str, str | None], Identity | None] | None = None,
    ) -> None:
        self.app = app
        self.signer = signer
        self.secure = secure  # the site is https (public_url), whatever a request's scheme says
        self.embed = embed  # an X-Botport-Embed token and the client's address -> its identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(name == b"authorization" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        client = scope.get("client")
        address = client[0] if client else None
        token = next((value for name, value in scope["headers"] if name == EMBED_HEADER), None)
        if token is not None:
            identity = self.embed(token.decode("latin-1"), address) if self.embed else None
            if identity is None:
                state["embed_token_invalid"] = True
            else:
                state["web_identity"] = identity
            await self.app(scope, receive, send)
            return
        if scope.get("path", "").startswith(EMBED_PATHS):
            await self.app(scope, receive, send)
            return
        https = self.secure or scope.get("scheme") == "https"
        name = cookie_name(https=https)
        sent = _cookie_values(scope, name)
        if len(sent) > 1:
            state["identity_conflict"] = True
            await self.app(scope, receive, _adding_cookies(send, tossed_cookie_removals(scope, name)))
            return
        identity_id = self.signer.unsign(sent[0]) if sent else None
        if identity_id is not None:
            state["web_identity"] = Identity("web", identity_id, address=address)
            await self.app(scope, receive, send)
            return
        identity_id = secrets.token_urlsafe(18)
        state["web_identity"] = Identity("web", identity_id, address=address)
        cookie = (
            f"{name}={self.signer.sign(identity_id)}; Path=/; Max-Age={COOKIE_MAX_AGE}; "
            "HttpOnly; SameSite=Lax" + ("; Secure" if https else "")
        )
        await self.app(scope, receive, _adding_cookies(send, [cookie]))


def _adding_cookies(send: Send, cookies: list[str]) -> Send:
    async def send_with_cookies(message: Message) -> None:
        if message["type"] == "http.response.start":
            extra = [(b"set-cookie", cookie.encode("latin-1")) for cookie in cookies]
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return send_with_cookies
