"""What botport makes of a token endpoint's answers (an expired token, garbled bodies, Coze's error
shapes), when it renews (a tenth of a token's life, at most five minutes, on a controlled clock), a
renewal that fails while the token still has time, the key file's problems, and the redactor that
learns each new token. The answers come from a scripted endpoint on a real server."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from botport.redaction import ADDED_KEPT, MASK, Redactor, install_log_redaction
from botport.upstream.oauth import (
    TOKEN_PATH,
    CozeOAuthError,
    CozeOAuthTokens,
    OAuthKeyError,
    load_private_key,
)
from live_server import LiveServer
from oauth_keys import APP_ID, KEY_ID, KeyPair, key_pair

NOW = 1_800_000_000.0


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class ScriptedEndpoint:
    """A token endpoint that answers what it is told to, in order (the last answer repeats)."""

    answers: list[Response] = field(default_factory=list)
    calls: int = 0

    async def token(self, request: Request) -> Response:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]

    def app(self) -> Starlette:
        return Starlette(routes=[Route(TOKEN_PATH, self.token, methods=["POST"])])


@pytest.fixture
def endpoint() -> Iterator[tuple[str, ScriptedEndpoint]]:
    scripted = ScriptedEndpoint()
    server = LiveServer(scripted.app()).start()
    try:
        yield server.url, scripted
    finally:
        server.stop()


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    return key_pair(tmp_path)


def token_answer(value: str, expires_in: int, **extra: Any) -> JSONResponse:
    return JSONResponse({"access_token": value, "expires_in": expires_in, **extra})


def tokens_for(url: str, keys: KeyPair, clock: Clock | None = None, duration: int = 900) -> CozeOAuthTokens:
    return CozeOAuthTokens(
        app_id=APP_ID,
        key_id=KEY_ID,
        private_key=load_private_key(keys.private_file),
        base_url=url,
        clock=clock or Clock(),
        duration=duration,
    )


@pytest.mark.live
@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (token_answer("czs_expired_0123456789", int(NOW) - 10), "had already expired when it arrived"),
        (
            PlainTextResponse("<html><body>502 Bad Gateway</body></html>", status_code=502),
            "Coze answered HTTP 502 without JSON: <html><body>502 Bad Gateway</body></html>",
        ),
        (PlainTextResponse("", status_code=200), "Coze answered HTTP 200 without JSON: (empty body)"),
        (JSONResponse(["not", "an", "object"]), "Coze answered HTTP 200 without JSON"),
        (JSONResponse({"token_type": "Bearer"}), "Coze's answer has no access_token and expires_in"),
        (
            JSONResponse({"access_token": "czs_0123456789", "expires_in": "soon"}),
            "Coze's answer has no access_token and expires_in",
        ),
        (
            JSONResponse({"error_code": "invalid_request", "error_message": "invalid request: x"}, 400),
            "Coze refused it (invalid_request: invalid request: x)",
        ),
        (
            JSONResponse({"error_code": "", "error_message": "login session invalid"}, 200),
            "Coze refused it (login session invalid)",
        ),
        (
            JSONResponse({"code": 4100, "msg": "authentication is invalid"}, 401),
            "Coze refused it (4100: authentication is invalid)",
        ),
        (JSONResponse({"detail": "nope"}, 403), "Coze refused it (HTTP 403)"),
    ],
    ids=[
        "expired",
        "html",
        "empty",
        "json-list",
        "no-token",
        "garbled-expiry",
        "error-code",
        "error-message-only",
        "envelope",
        "http-status",
    ],
)
async def test_an_answer_without_a_usable_token_is_a_clear_error(
    endpoint: tuple[str, ScriptedEndpoint], keys: KeyPair, answer: Response, says: str
) -> None:
    url, scripted = endpoint
    scripted.answers.append(answer)
    async with tokens_for(url, keys) as tokens:
        with pytest.raises(CozeOAuthError) as raised:
            await tokens.bearer()
        assert tokens.current is None
    error = raised.value
    assert error.message.startswith(f"no access token for the Coze OAuth app {APP_ID}: ")
    assert says in error.message, error.message
    assert (error.status, error.code) == (502, "coze_oauth_failed")
    if isinstance(answer, JSONResponse) and b'"code"' in answer.body:
        assert error.upstream_code == 4100


@pytest.mark.live
async def test_renewal_comes_at_a_tenth_of_the_life_or_five_minutes_before_the_end(
    endpoint: tuple[str, ScriptedEndpoint], keys: KeyPair
) -> None:
    url, scripted = endpoint
    clock = Clock()
    scripted.answers += [
        token_answer("czs_first_token_0001", int(NOW) + 900),  # 15 minutes: renewed 90 s before its end
        token_answer("czs_second_token_002", int(NOW) + 810 + 86399),  # 24 hours: 300 s before
        token_answer("czs_third_token_0003", int(NOW) + 90_000),
    ]
    async with tokens_for(url, keys, clock, duration=86399) as tokens:
        assert await tokens.bearer() == "czs_first_token_0001"
        clock.now = NOW + 809
        assert await tokens.bearer() == "czs_first_token_0001" and scripted.calls == 1
        clock.now = NOW + 810
        assert await tokens.bearer() == "czs_second_token_002" and scripted.calls == 2
        clock.now = NOW + 810 + 86399 - 301
        assert await tokens.bearer() == "czs_second_token_002" and scripted.calls == 2
        clock.now = NOW + 810 + 86399 - 300
        assert await tokens.bearer() == "czs_third_token_0003" and scripted.calls == 3


@pytest.mark.live
async def test_a_token_never_lives_longer_than_asked_for(
    endpoint: tuple[str, ScriptedEndpoint], keys: KeyPair
) -> None:
    """A clock behind Coze's makes its expiry look later: the duration asked for bounds it."""
    url, scripted = endpoint
    scripted.answers.append(token_answer("czs_from_the_future_01", int(NOW) + 3600 + 900))
    async with tokens_for(url, keys) as tokens:
        await tokens.bearer()
        assert tokens.current is not None and tokens.current.expires_at == NOW + 900


@pytest.mark.live
async def test_a_failed_renewal_keeps_the_current_token_until_it_runs_out(
    endpoint: tuple[str, ScriptedEndpoint], keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    url, scripted = endpoint
    clock = Clock()
    scripted.answers += [
        token_answer("czs_only_token_0001", int(NOW) + 900),
        JSONResponse({"error_code": "internal_error", "error_message": "Service internal error."}, 500),
    ]
    async with tokens_for(url, keys, clock) as tokens:
        assert await tokens.bearer() == "czs_only_token_0001"
        clock.now = NOW + 850  # due for renewal; the renewal fails, the token still has 50 s
        assert await tokens.bearer() == "czs_only_token_0001"
        assert "the current access token serves its last 50 s" in caplog.text
        clock.now = NOW + 896  # within 5 s of its end: not sent any more
        with pytest.raises(
            CozeOAuthError, match=r"Coze refused it \(internal_error: Service internal error.\)"
        ):
            await tokens.bearer()
    assert scripted.calls == 3  # each call that found the token due tried again
    assert "czs_only_token_0001" not in caplog.text


# --- the key file ---------------------------------------------------------------------------------


def test_the_key_file_s_problems_are_said_plainly(tmp_path: Path, keys: KeyPair) -> None:
    setting = "(BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE)"
    with pytest.raises(OAuthKeyError, match=rf"missing.pem {re.escape(setting)} does not exist$"):
        load_private_key(tmp_path / "missing.pem")
    with pytest.raises(OAuthKeyError, match="is a directory, not a PEM file"):
        load_private_key(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key at all")
    with pytest.raises(OAuthKeyError, match="does not hold a PEM private key"):
        load_private_key(garbage)
    with pytest.raises(OAuthKeyError, match="does not hold a PEM private key"):
        load_private_key(keys.public_file)  # the public half, by mistake
    key = load_private_key(keys.private_file)
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    with pytest.raises(OAuthKeyError, match="is encrypted with a passphrase"):
        load_private_key(encrypted)
    elliptic = tmp_path / "ec.pem"
    elliptic.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(
        OAuthKeyError, match=r"ec.pem \(BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE\) is not an RSA key"
    ):
        load_private_key(elliptic)


def test_an_unreadable_key_file_is_said_plainly(keys: KeyPair) -> None:
    inside_a_file = keys.private_file / "key.pem"  # an OS error that holds for root too
    with pytest.raises(
        OAuthKeyError, match=r"cannot read the Coze OAuth app's private key file .*: Not a directory"
    ):
        load_private_key(inside_a_file)


def test_no_word_of_the_key_is_in_its_errors(tmp_path: Path, keys: KeyPair) -> None:
    broken = tmp_path / "broken.pem"
    lines = keys.private_pem.decode().splitlines()
    broken.write_text("\n".join(lines[:5] + lines[7:]))  # two lines of it lost
    with pytest.raises(OAuthKeyError) as raised:
        load_private_key(broken)
    assert raised.value.__suppress_context__  # raised from None: cryptography's words are not shown
    assert all(line not in str(raised.value) for line in keys.secret_lines())


# --- the redactor learns each new token -----------------------------------------------------------


def test_a_growing_redactor_masks_the_latest_tokens(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    redact = Redactor([], growing=True)
    assert redact and not Redactor([])  # installed even before its first secret
    uninstall = install_log_redaction(redact)
    try:
        tokens = [f"czs_token_number_{n:04d}" for n in range(ADDED_KEPT + 2)]
        for token in tokens:
            redact.add(token)
        redact.add("short")  # too short to be a secret: ordinary words stay
        logging.getLogger("botport.test.oauth").info("Coze said: bad token %s", tokens[-1])
    finally:
        uninstall()
    assert f"Coze said: bad token {MASK}" in caplog.text
    assert redact(" ".join(tokens[-ADDED_KEPT:])) == " ".join([MASK] * ADDED_KEPT)
    assert redact(tokens[0]) == tokens[0]  # the oldest are long expired: no longer looked for
    assert redact("a short note") == "a short note"
