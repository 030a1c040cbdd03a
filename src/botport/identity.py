"""Who is calling: an anonymous browser identity in a signed cookie, or an API key.

The Coze ``user_id`` is derived from the identity here, on the server, so a client can never act as
another user on Coze's side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botport.private_files import private_dir

COOKIE_NAME = "botport_id"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie


@dataclass(frozen=True, slots=True)
class Identity:
    kind: Literal["web", "key"]
    id: str

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

    def sign(self, identity_id: str) -> str:
        sig = base64.urlsafe_b64encode(self._mac(b"cookie", identity_id)[:18]).decode()
        return f"{identity_id}.{sig}"

    def unsign(self, cookie: str) -> str | None:
        identity_id, _, sig = cookie.partition(".")
        if not identity_id or not sig or not cookie.isascii():  # a signed value is ASCII, always
            return None
        return identity_id if hmac.compare_digest(self.sign(identity_id), cookie) else None

    def coze_user_id(self, identity: Identity) -> str:
        """A stable, opaque Coze user id: the same identity always maps to the same id."""
        return "bp-" + self._mac(b"coze-user", identity.owner).hex()[:32]


def _cookie_value(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, val = part.strip().partition("=")
                if key == COOKIE_NAME:
                    return str(val)
    return None


class BrowserIdentityMiddleware:
    """Gives every browser an anonymous identity in a signed, HttpOnly, SameSite cookie.

    Requests with an ``Authorization`` header are API calls and get no cookie. The identity is put in
    ``scope["state"]["web_identity"]`` for the routes.
    """

    def __init__(self, app: ASGIApp, signer: IdentitySigner, *, secure: bool = False) -> None:
        self.app = app
        self.signer = signer
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(name == b"authorization" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        raw = _cookie_value(scope)
        identity_id = self.signer.unsign(raw) if raw else None
        fresh = identity_id is None
        if identity_id is None:
            identity_id = secrets.token_urlsafe(18)
        scope.setdefault("state", {})["web_identity"] = Identity("web", identity_id)

        if not fresh:
            await self.app(scope, receive, send)
            return

        cookie = (
            f"{COOKIE_NAME}={self.signer.sign(identity_id)}; Path=/; Max-Age={COOKIE_MAX_AGE}; "
            "HttpOnly; SameSite=Lax" + ("; Secure" if self.secure else "")
        )

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
