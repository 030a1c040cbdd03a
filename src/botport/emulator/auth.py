"""Bearer-token check. A token maps to an opaque account key; tokens themselves are never stored."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from starlette.requests import Request

from botport.emulator.envelope import AUTH_FAILED, EmulatorError


def account_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class TokenChecker:
    def __init__(self, tokens: Iterable[str]) -> None:
        self._accounts = {account_key(t): t for t in tokens if t}
        if not self._accounts:
            raise ValueError("the emulator needs at least one token")

    def account_for(self, request: Request) -> str:
        """The account of the request's Bearer token, or a 4100 error (HTTP 401, like Coze)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise EmulatorError(AUTH_FAILED, "authentication is invalid: no Bearer token", http_status=401)
        key = account_key(token)
        known = self._accounts.get(key)
        if known is None or not hmac.compare_digest(known, token):
            raise EmulatorError(AUTH_FAILED, "authentication is invalid", http_status=401)
        return key
