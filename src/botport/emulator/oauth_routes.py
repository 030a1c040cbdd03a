"""Coze's OAuth token endpoint for one "service" app (JWT): ``POST /api/permission/oauth2/token``.

The caller signs a JWT with the app's private key and sends it as ``Authorization: Bearer <JWT>`` with
``{"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "duration_seconds": N}``. The JWT is
checked with PyJWT against the app's public key: RS256 only, ``kid`` (the key's id), ``iss`` (the
app id), ``aud`` (the host the request came to, as the SDK sends it), ``iat``, ``exp``, and a ``jti``
never seen before. The answer is Coze's, not in an envelope: ``{"access_token", "expires_in"}`` (the
unix time of expiry); an error is ``{"error_code", "error_message"}`` (HTTP 400 or 401). The token is
then accepted by every route until it expires (:class:`botport.emulator.auth.TokenChecker`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from botport.emulator.envelope import EmulatorError, JSONResponse
from botport.emulator.inputs import json_body

if TYPE_CHECKING:
    from botport.emulator.context import Emulator

TOKEN_PATH = "/api/permission/oauth2/token"  # noqa: S105 - a path, not a password
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_DURATION = 900  # Coze's default and maximum (86399) for duration_seconds
MAX_DURATION = 86399
MAX_JWT_LIFETIME = 24 * 3600  # exp - iat (the SDK signs for an hour)
LEEWAY = 5  # seconds of clock difference allowed on iat and exp


class OAuthRefusal(Exception):
    def __init__(self, error_code: str, message: str, *, status: int) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.status = status


def _invalid_client(message: str) -> OAuthRefusal:
    return OAuthRefusal("invalid_client", message, status=401)


def _invalid_request(message: str) -> OAuthRefusal:
    return OAuthRefusal("invalid_request", message, status=400)


@dataclass(frozen=True, slots=True)
class EmulatedOAuthApp:
    """A Coze OAuth service app: its id, its public key's id and the key (PEM)."""

    app_id: str
    key_id: str
    public_key_pem: bytes
    max_duration: int = MAX_DURATION  # tokens never live longer (tests make them short)

    @classmethod
    def from_file(
        cls, app_id: str, key_id: str, path: Path, *, max_duration: int = MAX_DURATION
    ) -> EmulatedOAuthApp:
        return cls(app_id, key_id, path.read_bytes(), max_duration)

    def public_key(self) -> RSAPublicKey:
        """The RSA public key; ValueError when the PEM is not one."""
        try:
            key = load_pem_public_key(self.public_key_pem)
        except ValueError:
            raise ValueError("the OAuth app's public key is not a PEM public key") from None
        if not isinstance(key, RSAPublicKey):
            raise ValueError("the OAuth app's public key is not an RSA key (Coze signs with RS256)")
        return key


class OAuthRoutes:
    """The token endpoint. ``exchanges`` counts the tokens issued, ``refusals`` the requests refused.
    ``deactivated``: the owner disabled the app; every exchange is refused (``access_deny``)."""

    def __init__(self, emulator: Emulator, app: EmulatedOAuthApp) -> None:
        if not app.app_id or not app.key_id or app.max_duration < 1:
            raise ValueError("an OAuth app needs an id, a key id and a max duration of 1 s or more")
        self.emulator = emulator
        self.app = app
        self._public_key = app.public_key()
        self._seen: dict[str, float] = {}  # jti -> until when it could be replayed (its exp)
        self.exchanges = 0
        self.refusals = 0
        self.deactivated = False

    def routes(self) -> list[BaseRoute]:
        return [Route(TOKEN_PATH, self.token, methods=["POST"])]

    def account(self) -> str:
        """The account every token of the app belongs to."""
        return f"oauth-{self.app.app_id}"

    async def token(self, request: Request) -> Response:
        try:
            body = await self._body(request)
            self._verify(request)
            duration = _duration(body.get("duration_seconds"))
        except OAuthRefusal as exc:
            self.refusals += 1
            message = exc.message + self.emulator.echo(request)
            return JSONResponse(
                {"error_code": exc.error_code, "error_message": message}, status_code=exc.status
            )
        token, expires = self.emulator.tokens.issue(self.account(), min(duration, self.app.max_duration))
        self.exchanges += 1
        return JSONResponse({"access_token": token, "expires_in": expires, "token_type": "Bearer"})

    async def _body(self, request: Request) -> dict[str, Any]:
        try:
            body = await json_body(request)
        except EmulatorError:  # said in OAuth's words here, not in an envelope
            raise _invalid_request("invalid request: the body is not a JSON object") from None
        grant = body.get("grant_type")
        if grant != GRANT_TYPE:
            raise OAuthRefusal("unsupported_grant_type", f"not supported grant type: {grant}", status=400)
        return body

    def _verify(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _invalid_client("invalid client: no JWT in the Authorization header")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise _invalid_client("invalid jwt: not a JWT") from None
        if header.get("alg") != "RS256":
            raise _invalid_client(f"invalid jwt: alg must be RS256, not {header.get('alg')}")
        if unverified.get("iss") != self.app.app_id:
            raise _invalid_client(f"invalid jwt: app {unverified.get('iss')} not found")
        if header.get("kid") != self.app.key_id:
            raise _invalid_client("invalid jwt: kid not been registered")
        claims = self._decode(token, audience=request.url.netloc)
        self._first_use(claims)
        if self.deactivated:
            message = f"app: {self.app.app_id} is currently deactivated by the owner"
            raise OAuthRefusal("access_deny", message, status=403)

    def _decode(self, token: str, *, audience: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public_key,
                algorithms=["RS256"],
                audience=audience,
                issuer=self.app.app_id,
                options={"require": ["iss", "aud", "iat", "exp", "jti"]},
                leeway=LEEWAY,
            )
        except jwt.InvalidSignatureError:
            raise _invalid_client("invalid jwt: signature verification failed") from None
        except jwt.ExpiredSignatureError:
            raise _invalid_client("invalid jwt: expired") from None
        except jwt.ImmatureSignatureError:
            raise _invalid_client("invalid jwt: iat is in the future") from None
        except jwt.InvalidAudienceError:
            raise _invalid_client(f"invalid jwt: aud must be {audience}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _invalid_client(f"invalid jwt: {exc.claim} is required") from None
        except jwt.InvalidTokenError as exc:
            raise _invalid_client(f"invalid jwt: {type(exc).__name__}") from None
        if claims["exp"] - claims["iat"] > MAX_JWT_LIFETIME:
            raise _invalid_client("invalid jwt: exp is more than 24 hours after iat")
        return claims

    def _first_use(self, claims: dict[str, Any]) -> None:
        """A JWT is good for one exchange: its ``jti`` is remembered until the JWT expires."""
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise _invalid_client("invalid jwt: jti must be a non-empty string")
        now = time.time()
        self._seen = {seen: until for seen, until in self._seen.items() if until + LEEWAY > now}
        if jti in self._seen:
            raise _invalid_client("invalid jwt: jti has been used")
        self._seen[jti] = float(claims["exp"])


def _duration(value: object) -> int:
    if value is None:
        return DEFAULT_DURATION
    if type(value) is not int or not 1 <= value <= MAX_DURATION:
        raise _invalid_request(f"invalid request: duration_seconds must be 1 to {MAX_DURATION}")
    return value
