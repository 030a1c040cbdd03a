"""A Coze OAuth app's access tokens (botport.upstream.oauth) from the emulator's token endpoint, on a
real uvicorn server: the JWT botport signs, one exchange for many callers, the token cached and renewed
before it expires, a refused token replaced, and the refusals (another key, an unknown app, a wrong key
id) as clear errors that never carry the key, the JWT or a token."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from starlette.applications import Starlette

from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.redaction import MASK
from botport.upstream.client import CozeClient
from botport.upstream.models import EnterMessage
from botport.upstream.oauth import (
    GRANT_TYPE,
    JWT_LIFETIME,
    TOKEN_PATH,
    CozeOAuthError,
    CozeOAuthTokens,
    load_private_key,
)
from live_server import LiveServer
from oauth_keys import APP_ID, KEY_ID, KeyPair, emulated_app, key_pair

pytestmark = pytest.mark.live


@dataclass
class Recording(httpx.AsyncBaseTransport):
    """The network, with every request's Authorization header and body kept (to look for leaks)."""

    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)  # path, Authorization, body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw = await request.aread()
        body = json.loads(raw) if raw else None
        self.requests.append((request.url.path, request.headers.get("authorization", ""), body))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def bearers(self, path: str) -> list[str]:
        return [auth.removeprefix("Bearer ") for p, auth, _ in self.requests if p == path]


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    return key_pair(tmp_path)


@pytest.fixture
def coze(keys: KeyPair) -> Iterator[Callable[..., tuple[str, Starlette]]]:
    """Start emulators with the app's public key on real servers: (url, app)."""
    servers: list[LiveServer] = []

    def start(**options: Any) -> tuple[str, Starlette]:
        max_duration = options.pop("max_duration", 86399)
        app = create_emulator_app(
            tokens=[], oauth_app=emulated_app(keys, max_duration=max_duration), **options
        )
        servers.append(LiveServer(app).start())
        return servers[-1].url, app

    yield start
    for server in servers:
        server.stop()


def tokens_for(url: str, keys: KeyPair, **options: Any) -> CozeOAuthTokens:
    values: dict[str, Any] = {"app_id": APP_ID, "key_id": KEY_ID, **options}
    return CozeOAuthTokens(private_key=load_private_key(keys.private_file), base_url=url, **values)


async def ask(coze: CozeClient, question: str = "hello", conversation_id: str | None = None) -> str:
    """One streamed turn; the Coze conversation's id."""
    async with coze.stream_chat(
        bot_id=DEMO_BOT_ID,
        user_id="user-1",
        messages=[EnterMessage.user_text(question)],
        conversation_id=conversation_id,
    ) as stream:
        chats = [event.chat async for event in stream if event.chat is not None]
    assert stream.logid and chats[-1].status == "completed", chats
    return chats[-1].conversation_id


async def test_the_jwt_is_coze_s_and_its_token_serves_turns(
    keys: KeyPair, coze: Callable[..., tuple[str, Starlette]]
) -> None:
    url, emulator = coze()
    network = Recording()
    tokens = tokens_for(url, keys, transport=network)
    async with tokens, CozeClient(token=tokens, base_url=url, transport=network) as client:
        started = time.time()
        conversation = await ask(client)
        await ask(client, "and again", conversation)  # the same conversation, the same token

    assert emulator.state.oauth.exchanges == 1 and tokens.exchanges == 1
    (path, authorization, body), *turns = network.requests
    assert path == TOKEN_PATH and body == {"grant_type": GRANT_TYPE, "duration_seconds": 900}
    signed = authorization.removeprefix("Bearer ")
    assert jwt.get_unverified_header(signed) == {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}
    claims = jwt.decode(
        signed, keys.public_pem, algorithms=["RS256"], audience=url.removeprefix("http://"), issuer=APP_ID
    )
    assert set(claims) == {"iss", "aud", "iat", "exp", "jti"}
    assert claims["exp"] - claims["iat"] == JWT_LIFETIME
    assert abs(claims["iat"] - started) < 5 and len(claims["jti"]) >= 32
    # The turns carried the access token the exchange gave, which lives the 15 minutes asked for.
    token = tokens.current
    assert token is not None
    assert [auth for _, auth, _ in turns] == [f"Bearer {token.value.get_secret_value()}"] * 2
    assert 890 <= token.expires_at - time.time() <= 900


async def test_many_callers_at_once_cause_one_exchange(
    keys: KeyPair, coze: Callable[..., tuple[str, Starlette]]
) -> None:
    url, emulator = coze()
    tokens = tokens_for(url, keys)
    async with tokens, CozeClient(token=tokens, base_url=url) as client:
        await asyncio.gather(*(ask(client, f"question {n}") for n in range(8)))
        bearers = await asyncio.gather(*(tokens.bearer() for _ in range(20)))
    assert len(set(bearers)) == 1
    assert emulator.state.oauth.exchanges == 1


async def test_a_caller_that_stops_waiting_leaves_the_exchange_to_the_others(
    keys: KeyPair, coze: Callable[..., tuple[str, Starlette]]
) -> None:
    url, emulator = coze()
    tokens = tokens_for(url, keys)
    try:
        first = asyncio.create_task(tokens.bearer())
        await asyncio.sleep(0)  # it has started the exchange
        first.cancel()
        second = await tokens.bearer()
    finally:
        await tokens.aclose()
    assert first.cancelled()
    assert second and emulator.state.oauth.exchanges == 1


async def test_a_token_is_renewed_before_it_expires(
    keys: KeyPair, coze: Callable[..., tuple[str, Starlette]]
) -> None:
    url, emulator = coze(max_duration=3)  # the emulator's tokens live 2-3 s
    tokens = tokens_for(url, keys)
    async with tokens, CozeClient(token=tokens, base_url=url) as client:
        conversation = await ask(client)
        first = tokens.current
        assert first is not None and 1.5 < first.lifetime <= 3
        # Asked for again and again: the same token until a tenth of its life is left, then a new one.
        while (bearer := await tokens.bearer()) == first.value.get_secret_value():
            assert time.time() < first.renew_at + 0.5
            await asyncio.sleep(0.02)
        renewed_at = time.time()
        assert first.renew_at <= renewed_at < first.expires_at  # before it expired, not after
        assert emulator.state.oauth.exchanges == 2
        second = tokens.current
        assert second is not None and second.value.get_secret_value() == bearer
        # Turns go on over several renewals without one refusal.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            await ask(client, "still there?", conversation)
            await asyncio.sleep(0.4)
    assert emulator.state.oauth.exchanges >= 3
    assert emulator.state.oauth.refusals == 0


async def test_a_refused_token_is_replaced_and_the_call_sent_again(
    keys: KeyPair, coze: Callable[..., tuple[str, Starlette]]
) -> None:
    url, emulator = coze()
    tokens = tokens_for(url, keys)
    async with tokens, CozeClient(token=tokens, base_url=url) as client:
        conversation = await ask(client)
        before = await tokens.bearer()
        assert emulator.state.emulator.tokens.revoke_issued() == 1  # Coze forgot it (revoked)
        await ask(client, "after the revocation", conversation)  # a 401, a new token, the turn goes on
        assert await tokens.bearer() != before
    assert emulator.state.oauth.exchanges == 2


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"other_key": True}, "invalid_client: invalid jwt: signature verification failed"),
        ({"app_id": "1150000000000000999"}, "invalid_client: invalid jwt: app 1150000000000000999 not found"),
        ({"key_id": "kid_some_other_key"}, "invalid_client: invalid jwt: kid not been registered"),
    ],
    ids=["another-key-pair", "unknown-app", "wrong-key-id"],
)
async def test_a_refused_jwt_is_a_clear_error(
    tmp_path: Path,
    keys: KeyPair,
    coze: Callable[..., tuple[str, Starlette]],
    caplog: pytest.LogCaptureFixture,
    options: dict[str, Any],
    says: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    url, emulator = coze(echo_authorization=True)  # Coze echoes the Authorization header: the JWT
    signing = key_pair(tmp_path / "other", "other") if options.pop("other_key", False) else keys
    network = Recording()
    tokens = tokens_for(url, signing, transport=network, **options)
    async with tokens, CozeClient(token=tokens, base_url=url, transport=network) as client:
        with pytest.raises(CozeOAuthError) as raised:
            await ask(client)
    error = raised.value
    app_id = options.get("app_id", APP_ID)
    assert error.message.startswith(f"no access token for the Coze OAuth app {app_id}: Coze refused it (")
    assert says in error.message
    assert (error.status, error.code, error.http_status) == (502, "coze_oauth_failed", 401)
    assert error.logid and len(error.logid) > 10
    assert [path for path, _, _ in network.requests] == [TOKEN_PATH]  # no turn was tried without a token
    assert emulator.state.oauth.refusals == 1
    # The echoed JWT is masked in the error and in every log line; nothing of the key anywhere.
    (signed,) = network.bearers(TOKEN_PATH)
    assert MASK in error.message
    for text in (str(error), json.dumps(error.to_dict()), caplog.text):
        assert signed not in text
        assert all(line not in text for line in signing.secret_lines())
    assert f"no access token for the Coze OAuth app {app_id}" in caplog.text  # the refusal is logged


async def test_access_tokens_echoed_by_coze_never_reach_an_error_or_a_log(
    keys: KeyPair, coze: Callable[..., tuple[str, Starlette]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url, _ = coze(echo_authorization=True)
    network = Recording()
    tokens = tokens_for(url, keys, transport=network)
    async with tokens, CozeClient(token=tokens, base_url=url, transport=network) as client:
        await ask(client)
        with pytest.raises(Exception) as raised:  # an unknown bot: Coze's error echoes the header
            async with client.stream_chat(
                bot_id="7999", user_id="u", messages=[EnterMessage.user_text("hi")]
            ) as stream:
                async for _ in stream:
                    pass
    token = tokens.current
    assert token is not None
    access = token.value.get_secret_value()
    assert access.startswith("czs_")
    assert f"request Authorization: Bearer {MASK}" in str(raised.value)
    (signed,) = network.bearers(TOKEN_PATH)
    for text in (str(raised.value), caplog.text):
        assert access not in text and signed not in text
        assert all(line not in text for line in keys.secret_lines())


async def test_an_unreachable_token_endpoint_is_a_clear_error(keys: KeyPair) -> None:
    server = LiveServer(Starlette()).start()
    url = server.url
    server.stop()  # nothing listens there now
    tokens = tokens_for(url, keys)
    try:
        with pytest.raises(CozeOAuthError) as raised:
            await tokens.bearer()
    finally:
        await tokens.aclose()
    assert raised.value.message == (
        f"no access token for the Coze OAuth app {APP_ID}: cannot reach {url}{TOKEN_PATH} (ConnectError)"
    )
    assert raised.value.http_status is None


@dataclass
class Outage(httpx.AsyncBaseTransport):
    """The network, down while ``down`` is set (a refused connection); every attempt counted."""

    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    down: bool = True
    attempts: int = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_after_a_failed_exchange_coze_is_not_asked_again_at_once(
    tmp_path: Path, keys: KeyPair, coze: Callable[..., tuple[str, Starlette]]
) -> None:
    """A wrong key, or Coze unreachable, would otherwise cost one exchange per turn: the error is given
    at once, with Retry-After, for 2 s, then 4 s... and a success ends the pauses."""
    url, emulator = coze()
    wrong = tokens_for(url, key_pair(tmp_path / "other", "other"))
    async with wrong:
        with pytest.raises(CozeOAuthError) as first:
            await wrong.bearer()
        assert first.value.retry_after == 2 and emulator.state.oauth.refusals == 1
        with pytest.raises(CozeOAuthError) as again:
            await wrong.bearer()
        assert emulator.state.oauth.refusals == 1  # not asked
        assert again.value.message == f"{first.value.message} (botport asks Coze again in 2 s)"
        assert again.value.retry_after == 2 and again.value.http_headers == {"Retry-After": "2"}
        assert (again.value.code, again.value.http_status, again.value.logid) == (
            "coze_oauth_failed",
            401,
            first.value.logid,
        )
        await asyncio.sleep(2.1)
        with pytest.raises(CozeOAuthError) as third:
            await wrong.bearer()
        assert emulator.state.oauth.refusals == 2 and third.value.retry_after == 4  # the pause doubles

    network = Outage()
    tokens = tokens_for(url, keys, transport=network)
    async with tokens, CozeClient(token=tokens, base_url=url) as client:
        for _ in range(3):
            with pytest.raises(CozeOAuthError, match="cannot reach"):
                await ask(client)
        assert network.attempts == 1
        network.down = False
        await asyncio.sleep(2.1)
        await ask(client)  # the network is back: a token, and the turn
        assert network.attempts == 2 and emulator.state.oauth.exchanges == 1
        assert tokens.current is not None
        # A later failure starts again from the first pause.
        tokens.refused(await tokens.bearer())
        network.down = True
        with pytest.raises(CozeOAuthError) as after:
            await tokens.bearer()
        assert after.value.retry_after == 2
