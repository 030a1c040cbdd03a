"""botport with a Coze OAuth app instead of a personal access token, against the emulator's token
endpoint and chat API on a real uvicorn server: turns share one exchange, a refresh that fails when a
turn starts is a clear turn error (and the next turn recovers), and no private key, JWT or access token
reaches a response, a stored message or a log line, even when Coze echoes them."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import Frame, bot_configs, emulated_bots, gateway, parse_frames
from pydantic import SecretStr
from starlette.applications import Starlette

from botport.emulator.app import create_emulator_app
from botport.settings import Settings
from botport.upstream.oauth import TOKEN_PATH
from live_server import LiveServer
from oauth_keys import APP_ID, KEY_ID, KeyPair, emulated_app, key_pair

pytestmark = pytest.mark.live

ERROR_START = f"no access token for the Coze OAuth app {APP_ID}: Coze refused it (access_deny: app: {APP_ID}"


@dataclass
class Recording(httpx.AsyncBaseTransport):
    """botport's network to Coze, with every Authorization header kept (the JWTs and tokens to look for)."""

    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    seen: list[tuple[str, str]] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.path, request.headers.get("authorization", "").removeprefix("Bearer ")))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def secrets(self) -> set[str]:
        return {value for _, value in self.seen if value}


@dataclass
class Coze:
    url: str
    app: Starlette

    @property
    def oauth(self) -> Any:
        return self.app.state.oauth


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    return key_pair(tmp_path / "keys")


@pytest.fixture
def start_coze(keys: KeyPair) -> Iterator[Any]:
    servers: list[LiveServer] = []

    def start(max_duration: int = 86399, **options: Any) -> Coze:
        oauth_app = emulated_app(keys, max_duration=max_duration)
        app = create_emulator_app([], bots=emulated_bots(), oauth_app=oauth_app, **options)
        servers.append(LiveServer(app).start())
        return Coze(servers[-1].url, app)

    yield start
    for server in servers:
        server.stop()


def completed(frames: list[Frame]) -> bool:
    return frames[-1].event == "turn.completed" and frames[-1].data["status"] == "completed"


def oauth_settings(data_dir: Path, coze: Coze, keys: KeyPair) -> Settings:
    return Settings(
        coze_base_url=coze.url,
        coze_oauth_app_id=APP_ID,
        coze_oauth_key_id=KEY_ID,
        coze_oauth_private_key_file=keys.private_file,
        bots=bot_configs(),
        data_dir=data_dir,
        secret_key=SecretStr("a-test-secret-key-for-cookies"),
    )


async def test_turns_share_one_exchange(tmp_path: Path, start_coze: Any, keys: KeyPair) -> None:
    coze = start_coze()
    settings = oauth_settings(tmp_path, coze, keys)
    assert not settings.demo_mode
    async with gateway(settings) as gw:
        assert (await gw.client.get("/api/config")).json()["demo_mode"] is False
        cid = await gw.conversation("demo")
        for question in ("hello", "and again"):
            frames = await gw.send(cid, question)
            assert completed(frames), frames[-2:]
        # Many conversations at once: still the one token.
        others = [await gw.conversation("demo") for _ in range(3)]  # a browser's 3 at once
        answers = await asyncio.gather(*(gw.send(other, "hi") for other in others))
        assert all(completed(frames) for frames in answers)
        messages = await gw.messages(cid)
    assert [m["status"] for m in messages if m["role"] == "assistant"] == ["completed", "completed"]
    assert coze.oauth.exchanges == 1 and coze.oauth.refusals == 0


async def test_a_refresh_that_fails_when_a_turn_starts_fails_the_turn_clearly(
    tmp_path: Path, start_coze: Any, keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    coze = start_coze(max_duration=2, echo_authorization=True)  # tokens live 1-2 s; errors echo the header
    network = Recording()
    async with gateway(oauth_settings(tmp_path, coze, keys), network) as gw:
        cid = await gw.conversation("demo")
        first = await gw.send(cid, "hello")
        assert completed(first)
        # The owner disables the app; the token runs out; the next turns cannot get a new one.
        coze.oauth.deactivated = True
        await asyncio.sleep(2.2)
        started = time.monotonic()
        frames = await gw.send(cid, "are you there?")
        error = next(f for f in frames if f.event == "error").data
        assert error["code"] == "coze_oauth_failed"
        assert error["message"].startswith(ERROR_START), error
        assert "is currently deactivated by the owner" in error["message"]
        assert error["logid"]
        plain = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": "still?", "stream": False}
        )
        assert time.monotonic() - started < 10  # an answer, not a hang
        assert plain.status_code == 502, plain.text
        assert plain.json()["error"]["code"] == "coze_oauth_failed"
        assert plain.json()["error"]["message"].startswith(ERROR_START)
        # Coze was not asked again at once: the same error, and when botport asks again.
        assert plain.json()["error"]["message"].endswith("(botport asks Coze again in 2 s)")
        assert coze.oauth.refusals == 1
        failed = [m for m in await gw.messages(cid) if m["role"] == "assistant"][1:]
        assert [m["status"] for m in failed] == ["failed", "failed"]
        # The app is enabled again: after that pause the next turn gets a new token and goes on in the
        # same conversation.
        coze.oauth.deactivated = False
        await asyncio.sleep(2.1)
        again = await gw.send(cid, "back?")
        assert completed(again)
        bodies = [json.dumps([f.data for f in first + frames + again]), plain.text]
        bodies.append((await gw.client.get(f"/api/conversations/{cid}/messages")).text)
    assert coze.oauth.exchanges == 2 and coze.oauth.refusals == 1
    # The echoed JWTs and access tokens, and the key, are in no response, stored message or log line.
    secrets = network.secrets()
    assert len([path for path, _ in network.seen if path == TOKEN_PATH]) == 3  # 2 tokens, 1 refusal
    assert len(secrets) >= 5
    for text in [*bodies, caplog.text]:
        assert not [secret for secret in secrets if secret in text]
        assert all(line not in text for line in keys.secret_lines())
    assert "[redacted]" in bodies[0]  # the echo was there, and masked


async def test_echoed_access_tokens_are_masked_in_failed_answers(
    tmp_path: Path, start_coze: Any, keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    coze = start_coze(echo_authorization=True)
    network = Recording()
    async with gateway(oauth_settings(tmp_path, coze, keys), network) as gw:
        cid = await gw.conversation("failing")  # the bot's chat fails; Coze's last_error echoes the header
        response = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": "hi", "stream": True}
        )
        stored = (await gw.client.get(f"/api/conversations/{cid}/messages")).text
    frames = parse_frames(response.content)
    error = next(f for f in frames if f.event == "error").data
    assert "[redacted]" in error["message"], error
    tokens = {value for path, value in network.seen if path != TOKEN_PATH}
    assert len(tokens) == 1 and next(iter(tokens)).startswith("czs_")
    for text in (response.text, stored, caplog.text):
        assert not [secret for secret in network.secrets() if secret in text]
