"""A Coze OAuth "service" app (JWT): short-lived access tokens instead of a personal access token.

Coze's JWT flow, as its official SDK (``cozepy``'s ``JWTOAuthApp``) and docs have it:

- a JWT signed RS256 with the app's private key; header ``{"alg": "RS256", "typ": "JWT", "kid": <the
  public key's id>}``, claims ``iss`` (the app id), ``aud`` (the API host: ``api.coze.com``,
  ``api.coze.cn``, a Coze Studio's host), ``iat``, ``exp``, ``jti`` (random; a JWT is good for one
  exchange);
- ``POST {base}/api/permission/oauth2/token`` with ``Authorization: Bearer <JWT>`` and JSON
  ``{"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "duration_seconds": N}`` (default
  900, at most 86399);
- the answer, not in an envelope: ``{"access_token": "czs_...", "expires_in": <unix time of expiry>}``;
  an error: ``{"error_code": "invalid_client", "error_message": "..."}`` (or a ``{code, msg}`` envelope).
  An access token cannot be refreshed: a new one takes a new JWT.

:class:`CozeOAuthTokens` holds the current access token and gets a new one when less than a tenth of
its life (at most five minutes) is left: one exchange at a time, however many turns ask at once. Every
token it gets is added to its :class:`~botport.redaction.Redactor` (Coze may echo a token in an error).
The private key, the JWTs and the access tokens are never logged, stored or put in an error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from botport import __version__
from botport.errors import UpstreamError
from botport.redaction import Redactor

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from botport.settings import Settings

__all__ = [
    "AccessToken",
    "CozeOAuthError",
    "CozeOAuthTokens",
    "OAuthBearer",
    "OAuthKeyError",
    "app_private_key",
    "load_private_key",
]

log = logging.getLogger("botport.upstream.oauth")

TOKEN_PATH = "/api/permission/oauth2/token"  # noqa: S105 - a path, not a password
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_DURATION = 900  # seconds an access token is asked for: Coze's default (its maximum is 86399)
JWT_LIFETIME = 600  # seconds a signed JWT is valid (it is used at once, and only once)
RENEW_SHARE = 0.1  # renew when less than this share of a token's life is left...
RENEW_AT_MOST = 300.0  # ...or five minutes, whichever is less
EXPIRY_MARGIN = 5.0  # a token this close to its expiry is not sent any more (at most 5% of its life)
EXCHANGE_TIMEOUT = 30.0
# After a failed exchange, callers get its error at once for a while rather than each asking Coze
# again (a wrong key would otherwise cost one refused exchange per turn): 2 s, doubled with each
# failure in a row, at most a minute.
FIRST_PAUSE = 2.0
LONGEST_PAUSE = 60.0
_EXCERPT_CHARS = 200
_ABSOLUTE_AFTER = 1_000_000_000  # an expires_in above this is a unix time (Coze's), below it seconds


class OAuthKeyError(ValueError):
    """The app's private key file cannot be used (missing, unreadable, not an RSA private key)."""


class CozeOAuthError(UpstreamError):
    """Coze gave no access token for the OAuth app: a refused JWT, an unknown app, the network."""

    status = 502
    code = "coze_oauth_failed"


def load_private_key(path: Path) -> RSAPrivateKey:
    """The RSA private key in the PEM file ``path``; :class:`OAuthKeyError` says what is wrong."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    where = f"the Coze OAuth app's private key file {path} (BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE)"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise OAuthKeyError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise OAuthKeyError(f"{where} is a directory, not a PEM file") from None
    except OSError as exc:
        raise OAuthKeyError(f"cannot read {where}: {exc.strerror}") from None
    try:
        key = load_pem_private_key(data, password=None)
    except TypeError:  # the key is encrypted: no passphrase setting, by design
        raise OAuthKeyError(
            f"{where} is encrypted with a passphrase; keep it unencrypted and readable only by botport's"
            " user (openssl pkey -in encrypted.pem -out private_key.pem; chmod 600 private_key.pem)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):  # its words are not repeated: they are about the key's bytes
        raise OAuthKeyError(
            f"{where} does not hold a PEM private key (-----BEGIN PRIVATE KEY-----): use the private_key.pem"
            " that Coze downloaded when the app's key pair was created"
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise OAuthKeyError(f"{where} is not an RSA key ({type(key).__name__}): Coze's JWTs are signed RS256")
    return key


def app_private_key(settings: Settings) -> RSAPrivateKey | None:
    """The OAuth app's private key, read once when botport starts; None without an OAuth app."""
    path = settings.coze_oauth_private_key_file
    return load_private_key(path) if settings.oauth_app and path is not None else None


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An access token and its life, on this machine's clock."""

    value: SecretStr
    obtained_at: float
    expires_at: float

    @property
    def lifetime(self) -> float:
        return self.expires_at - self.obtained_at

    @property
    def renew_at(self) -> float:
        return self.expires_at - min(RENEW_SHARE * self.lifetime, RENEW_AT_MOST)

    def usable(self, now: float) -> bool:
        return now < self.expires_at - min(EXPIRY_MARGIN, 0.05 * self.lifetime)


class CozeOAuthTokens:
    """The access tokens of one Coze OAuth app: :meth:`bearer` is the one to send now."""

    def __init__(
        self,
        *,
        app_id: str,
        key_id: str,
        private_key: RSAPrivateKey,
        base_url: str,
        redactor: Redactor | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        duration: int = DEFAULT_DURATION,
        timeout: float = EXCHANGE_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self.key_id = key_id
        self._key = private_key
        self._url = base_url.rstrip("/") + TOKEN_PATH
        self.audience = urlsplit(base_url).netloc  # as the SDK: the API's host (and port, if any)
        self.redactor = redactor if redactor is not None else Redactor([], growing=True)
        self.duration = duration
        self._clock = clock
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._token: AccessToken | None = None
        self._exchanging: asyncio.Task[AccessToken] | None = None
        self.exchanges = 0  # exchanges that gave a token
        self._failures = 0  # exchanges that failed in a row
        self._last_failure: CozeOAuthError | None = None
        self._paused_until = 0.0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        private_key: RSAPrivateKey,
        redactor: Redactor | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> CozeOAuthTokens:
        assert settings.coze_oauth_app_id is not None and settings.coze_oauth_key_id is not None
        return cls(
            app_id=settings.coze_oauth_app_id,
            key_id=settings.coze_oauth_key_id,
            private_key=private_key,
            base_url=settings.coze_base_url,
            redactor=redactor,
            transport=transport,
            timeout=settings.connect_timeout + EXCHANGE_TIMEOUT,
        )

    @property
    def current(self) -> AccessToken | None:
        """The token last obtained (it may have expired)."""
        return self._token

    async def aclose(self) -> None:
        if self._exchanging is not None:
            self._exchanging.cancel()
        await self._http.aclose()

    async def __aenter__(self) -> CozeOAuthTokens:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def bearer(self) -> str:
        """The access token to send now: the current one, or a new one when it is due for renewal.
        A renewal that fails while the current token still has time left keeps the current one."""
        token = self._token
        if token is not None and self._clock() < token.renew_at:
            return token.value.get_secret_value()
        try:
            token = await self._renewed()
        except CozeOAuthError:
            current = self._token
            if current is None or not current.usable(self._clock()):
                raise
            left = current.expires_at - self._clock()
            log.warning("OAuth app %s: the current access token serves its last %.0f s", self.app_id, left)
            return current.value.get_secret_value()
        return token.value.get_secret_value()

    def refused(self, bearer: str) -> None:
        """Coze refused ``bearer`` (revoked, or expired early): the next request gets a new token."""
        token = self._token
        if token is not None and token.value.get_secret_value() == bearer:
            log.warning("Coze refused OAuth app %s's access token: the next call gets a new one", self.app_id)
            self._token = None

    async def _renewed(self) -> AccessToken:
        """One exchange for every caller that needs it meanwhile. A caller that stops waiting (a
        cancelled turn) leaves it to finish for the others."""
        task = self._exchanging
        if task is None:
            left = self._paused_until - self._clock()
            if self._last_failure is not None and left > 0:
                raise self._still_failed(self._last_failure, left)
            task = asyncio.get_running_loop().create_task(self._exchange())
            self._exchanging = task
            task.add_done_callback(self._exchanged)
        return await asyncio.shield(task)

    def _exchanged(self, task: asyncio.Task[AccessToken]) -> None:
        if self._exchanging is task:
            self._exchanging = None
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have left

    async def _exchange(self) -> AccessToken:
        try:
            token = await self._exchange_once()
        except CozeOAuthError as error:
            self._failures += 1
            # The exponent capped too: a day of failures would overflow a float.
            pause = min(FIRST_PAUSE * 2 ** min(self._failures - 1, 32), LONGEST_PAUSE)
            self._last_failure = error
            self._paused_until = self._clock() + pause
            error.retry_after = math.ceil(pause)
            raise
        self._failures = 0
        self._last_failure = None
        return token

    @staticmethod
    def _still_failed(error: CozeOAuthError, left: float) -> CozeOAuthError:
        """The last exchange's error again, while botport waits before asking Coze once more."""
        seconds = math.ceil(left)
        again = CozeOAuthError(
            f"{error.message} (botport asks Coze again in {seconds} s)",
            logid=error.logid,
            http_status=error.http_status,
            upstream_code=error.upstream_code,
        )
        again.retry_after = seconds
        return again

    async def _exchange_once(self) -> AccessToken:
        signed = self._sign()
        scrub = Redactor([signed])  # Coze may echo the Authorization header in its error message
        headers = {"Authorization": f"Bearer {signed}", "User-Agent": f"botport/{__version__}"}
        body = {"grant_type": GRANT_TYPE, "duration_seconds": self.duration}
        try:
            response = await self._http.post(self._url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise self._failed(f"cannot reach {self._url} ({type(exc).__name__})", None) from None
        logid = self.redactor.optional(scrub.optional(response.headers.get("x-tt-logid")))
        token = self._read(response, logid, lambda text: self.redactor(scrub(text)))
        self.redactor.add(token.value.get_secret_value())
        self._token = token
        self.exchanges += 1
        left = token.expires_at - self._clock()
        log.info("Coze OAuth app %s: new access token, valid for %.0f s", self.app_id, left)
        return token

    def _sign(self) -> str:
        import jwt

        now = int(self._clock())
        claims = {
            "iss": self.app_id,
            "aud": self.audience,
            "iat": now,
            "exp": now + JWT_LIFETIME,
            "jti": secrets.token_urlsafe(32),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id, "typ": "JWT"})

    def _read(self, response: httpx.Response, logid: str | None, scrub: Callable[[str], str]) -> AccessToken:
        status = response.status_code
        text = scrub(response.text)
        try:
            answer: Any = json.loads(text) if text.strip() else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            excerpt = " ".join(text.split())[:_EXCERPT_CHARS] or "(empty body)"
            raise self._failed(f"Coze answered HTTP {status} without JSON: {excerpt}", logid, status)
        refusal = _refusal(answer)
        if refusal is not None or status >= 400:
            upstream_code, why = refusal or (None, f"HTTP {status}")
            raise self._failed(f"Coze refused it ({why})", logid, status, upstream_code)
        if "access_token" not in answer and isinstance(answer.get("data"), dict):
            answer = answer["data"]  # in an envelope, as the rest of Coze's API answers
        value, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(value, str) or not value.strip() or type(expires_in) is not int:
            raise self._failed("Coze's answer has no access_token and expires_in", logid, status)
        now = self._clock()
        left = expires_in - now if expires_in > _ABSOLUTE_AFTER else float(expires_in)
        if left <= 0:
            raise self._failed(
                f"Coze's access token had already expired when it arrived (expires_in {expires_in}); "
                "check this machine's clock",
                logid,
                status,
            )
        # Never longer than asked for: a clock behind Coze's would make the token seem to live longer.
        return AccessToken(SecretStr(value), obtained_at=now, expires_at=now + min(left, self.duration))

    def _failed(
        self, why: str, logid: str | None, status: int | None = None, upstream_code: int | None = None
    ) -> CozeOAuthError:
        error = CozeOAuthError(
            f"no access token for the Coze OAuth app {self.app_id}: {why}",
            logid=logid,
            http_status=status,
            upstream_code=upstream_code,
        )
        log.warning("%s", error)
        return error


class OAuthBearer(httpx.Auth):
    """Each request to Coze carries the app's current access token. A 401 (the token was refused:
    revoked, or expired early) is sent once more with a new token: Coze refuses before doing anything."""

    def __init__(self, tokens: CozeOAuthTokens) -> None:
        self.tokens = tokens

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        bearer = await self.tokens.bearer()
        request.headers["Authorization"] = f"Bearer {bearer}"
        response = yield request
        if response.status_code == 401:
            self.tokens.refused(bearer)
            request.headers["Authorization"] = f"Bearer {await self.tokens.bearer()}"
            yield request


def _refusal(answer: dict[str, Any]) -> tuple[int | None, str] | None:
    """What an error answer says: ``{error_code, error_message}`` (OAuth) or ``{code, msg}`` (Coze's
    envelope); None when it is no error."""
    code, message = answer.get("error_code"), answer.get("error_message")
    if code or message:
        words = ": ".join(str(part) for part in (code, message) if part)
        return None, " ".join(words.split())[:_EXCERPT_CHARS]
    envelope_code = answer.get("code")
    if type(envelope_code) is int and envelope_code > 0:
        msg = " ".join(str(answer.get("msg") or "").split())[:_EXCERPT_CHARS]
        return envelope_code, f"{envelope_code}: {msg}" if msg else str(envelope_code)
    return None
