"""Bearer-token check. A token maps to an opaque account key; tokens themselves are never stored.

Two kinds of token: the fixed ones the emulator is started with (personal access tokens), and the
short-lived ones its OAuth token endpoint issues (:mod:`botport.emulator.oauth_routes`), accepted until
they expire. An OAuth app's tokens all belong to one account (the app's), so a conversation outlives
the token that started it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable

from starlette.requests import Request

from botport.emulator.envelope import AUTH_FAILED, EmulatorError

ISSUED_PREFIX = "czs_"  # Coze's service access tokens start so


def account_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenChecker:
    def __init__(
        self, tokens: Iterable[str], *, issues: bool = False, clock: Callable[[], float] = time.time
    ) -> None:
        """``issues``: an OAuth token endpoint issues tokens too (then no fixed token is needed)."""
        self._accounts = {account_key(t): t for t in tokens if t}
        if not self._accounts and not issues:
            raise ValueError("the emulator needs at least one token")
        self._issued: dict[str, tuple[str, float]] = {}  # sha256 of a token -> (account, expires at)
        self._clock = clock

    def issue(self, account: str, lifetime: int) -> tuple[str, int]:
        """A new token of ``account``, valid for ``lifetime`` seconds: (token, unix time of expiry)."""
        now = self._clock()
        self._issued = {d: (a, until) for d, (a, until) in self._issued.items() if until > now}
        token = ISSUED_PREFIX + secrets.token_urlsafe(48)
        expires = int(now) + lifetime
        self._issued[_digest(token)] = (account, expires)
        return token, expires

    def revoke_issued(self) -> int:
        """Forget every issued token (as when an app's authorization is withdrawn); how many there were."""
        count = len(self._issued)
        self._issued = {}
        return count

    def account_for(self, request: Request) -> str:
        """The account of the request's Bearer token, or a 4100 error (HTTP 401, like Coze)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise EmulatorError(AUTH_FAILED, "authentication is invalid: no Bearer token", http_status=401)
        issued = self._issued.get(_digest(token))
        if issued is not None:
            account, expires = issued
            if self._clock() >= expires:
                raise EmulatorError(
                    AUTH_FAILED, "authentication is invalid: the access token has expired", http_status=401
                )
            return account
        key = account_key(token)
        known = self._accounts.get(key)
        if known is None or not hmac.compare_digest(known, token):
            raise EmulatorError(AUTH_FAILED, "authentication is invalid", http_status=401)
        return key
