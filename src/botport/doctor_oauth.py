"""``botport doctor``'s checks of a Coze OAuth app (:mod:`botport.upstream.oauth`): the private key
file (readable, an RSA key, private to its owner) and one exchange of a JWT for an access token (its
expiry reported). The other upstream checks then run with that token."""

from __future__ import annotations

import os
import time
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import httpx

from botport.doctor import Check
from botport.errors import with_logid
from botport.settings import COZE_CN, Settings
from botport.upstream.oauth import CozeOAuthError, CozeOAuthTokens, OAuthKeyError, load_private_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

APPS_PAGES = {
    "coze.com": "https://www.coze.com/open/oauth/apps",
    "coze.cn": "https://www.coze.cn/open/oauth/apps",
}
KEY_CHECK = "OAuth key file"
APP_CHECK = "Coze OAuth app"


def apps_page(base_url: str) -> str:
    return APPS_PAGES["coze.cn"] if base_url == COZE_CN else APPS_PAGES["coze.com"]


def check_key_file(settings: Settings) -> tuple[Check, RSAPrivateKey | None]:
    """The key file: its key (or what is wrong with it), and a warning when others may read it."""
    path = settings.coze_oauth_private_key_file
    assert path is not None
    try:
        key = load_private_key(path)
    except OAuthKeyError as exc:
        fix = (
            "point BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE at the private_key.pem downloaded when the app's "
            f"key pair was made ({apps_page(settings.coze_base_url)}), readable by botport's user"
        )
        return Check(KEY_CHECK, "fail", str(exc), fix), None
    what = f"{path}: an RSA private key ({key.key_size} bits)"
    mode = path.stat().st_mode & 0o777
    if os.name == "posix" and mode & 0o077:
        return (
            Check(
                KEY_CHECK,
                "warn",
                f"{what}, readable by others than its owner (mode {mode:o})",
                f"chmod 600 {path} (and let only botport's user own it)",
            ),
            key,
        )
    return Check(KEY_CHECK, "ok", f"{what}, readable by its owner only"), key


async def check_exchange(tokens: CozeOAuthTokens, settings: Settings) -> Check:
    """One JWT exchanged for an access token: how long the token lasts, or why there is none."""
    try:
        await tokens.bearer()
    except CozeOAuthError as exc:
        detail = with_logid(exc.message, exc.logid)
        if exc.http_status is None:  # no answer: the network, or the address
            fix = (
                "check BOTPORT_COZE_BASE_URL (https://api.coze.com, https://api.coze.cn or your Coze "
                "Studio URL) and the network or proxy between this host and it"
            )
        else:
            page = apps_page(settings.coze_base_url)
            fix = (
                f"on {page} (an app of coze.com is unknown to coze.cn and the other way round): "
                "BOTPORT_COZE_OAUTH_APP_ID is the app's id, BOTPORT_COZE_OAUTH_KEY_ID the fingerprint "
                "of its public key, and the key file holds that key's private half; the app must be a "
                "service app (JWT), authorized, and not disabled"
            )
        return Check(APP_CHECK, "fail", detail, fix)
    token = tokens.current
    assert token is not None
    minutes = max(0.0, token.expires_at - time.time()) / 60
    return Check(
        APP_CHECK,
        "ok",
        f"app {tokens.app_id} (key {tokens.key_id}) got an access token; it expires in "
        f"{minutes:.0f} minute{'' if round(minutes) == 1 else 's'}",
    )


async def oauth_checks(
    settings: Settings, transport: httpx.AsyncBaseTransport | None, stack: AsyncExitStack
) -> tuple[list[Check], CozeOAuthTokens | None]:
    """The key file and the exchange; the app's tokens (closed with ``stack``) when both went well."""
    key_check, key = check_key_file(settings)
    if key is None:
        return [key_check], None
    tokens = CozeOAuthTokens.from_settings(settings, private_key=key, transport=transport)
    stack.push_async_callback(tokens.aclose)
    exchange = await check_exchange(tokens, settings)
    return [key_check, exchange], tokens if exchange.status == "ok" else None
