"""Coze echoes the caller's token: it leaves botport nowhere — not in a response, a stored row or a
log line. The upstream is the emulator in its careless mode (``echo_authorization``): every error
message it sends (a JSON envelope, an SSE ``error`` event, a failed chat, a 401) carries the
``Authorization`` value botport sent, which holds the Coze token."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID, DEMO_BOTS, FAILING_BOT_ID
from botport.emulator.faults import Faults
from botport.settings import BotConfig, Settings
from botport.store.keys import create_api_key

TOKEN = "pat_ECHOED_SECRET_0123456789abcdefABCDEF"
BASE = "http://gateway.test"


def _settings(data_dir: Path) -> Settings:
    return Settings(
        coze_token=SecretStr(TOKEN),
        coze_base_url="http://coze.test",
        bots=[
            BotConfig(slug="demo", bot_id=DEMO_BOT_ID, name="Demo"),
            BotConfig(slug="failing", bot_id=FAILING_BOT_ID, name="Failing"),
        ],
        data_dir=data_dir,
        secret_key=SecretStr("a-test-secret-key-for-cookies"),
        log_level="debug",
    )


def _careless_coze(*, knows_token: bool) -> Any:
    """The emulator echoing Authorization; the demo bot sends an ``error`` event after 2 deltas, the
    failing bot fails its chat. ``knows_token=False``: every call is a 401 (with the echo)."""
    bots = []
    for bot in DEMO_BOTS:
        faults = Faults(error_event_after=2) if bot.id == DEMO_BOT_ID else Faults()
        bots.append(type(bot)(bot.id, bot.name, bot.description, bot.greeting, bot.script, faults))
    tokens = [TOKEN] if knows_token else ["pat_some_other_token_that_is_valid"]
    return create_emulator_app(tokens=tokens, bots=bots, echo_authorization=True)


@asynccontextmanager
async def _botport(data_dir: Path, coze: Any) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    app = create_app(_settings(data_dir), upstream_transport=StreamingASGITransport(coze))
    async with app.router.lifespan_context(app):
        async with app.state.services.db.connect() as conn:
            key, _ = await create_api_key(conn, name="echo test")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE, timeout=30) as client:
            yield client, key


async def _every_surface(client: httpx.AsyncClient, key: str) -> list[httpx.Response]:
    """One call on each path a turn's failure comes back by, for both bots."""
    bearer = {"Authorization": f"Bearer {key}"}
    seen = []
    for bot in ("demo", "failing"):
        created = await client.post("/api/conversations", json={"bot": bot})
        seen.append(created)
        if created.status_code == 201:
            messages = f"/api/conversations/{created.json()['id']}/messages"
            seen.append(await client.post(messages, json={"content": "hello", "stream": True}))
            seen.append(await client.post(messages, json={"content": "again", "stream": False}))
            seen.append(await client.get(messages))
        chat = {"model": bot, "messages": [{"role": "user", "content": "hi"}]}
        seen.append(await client.post("/v1/chat/completions", json=chat, headers=bearer))
        seen.append(await client.post("/v1/chat/completions", json={**chat, "stream": True}, headers=bearer))
        seen.append(await client.post("/api/tool/ask", json={"question": "hi", "bot": bot}, headers=bearer))
        bot_id = DEMO_BOT_ID if bot == "demo" else FAILING_BOT_ID
        seed = {"bot_id": bot_id, "additional_messages": [{"role": "user", "content": "hi"}]}
        seen.append(await client.post("/chat", json=seed))
    seen.append(await client.get("/api/conversations"))
    return seen


def _stored_bytes(data_dir: Path) -> bytes:
    """Every byte of the SQLite database (its WAL included): a stored row would show here."""
    return b"".join(path.read_bytes() for path in sorted(data_dir.rglob("*.db*")))


@pytest.mark.parametrize("knows_token", [True, False], ids=["echo-in-failures", "echo-in-401"])
async def test_an_echoed_token_is_in_no_response_no_row_and_no_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, knows_token: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    coze = _careless_coze(knows_token=knows_token)
    async with _botport(tmp_path, coze) as (client, key):
        responses = await _every_surface(client, key)
    # The upstream did echo it (else this test proves nothing): botport saw error messages with it.
    bodies = [response.text for response in responses]
    assert any("[redacted]" in body for body in bodies), bodies
    for response in responses:
        assert TOKEN not in response.text, (response.request.url, response.text[:400])
        assert TOKEN not in str(response.headers)
    assert TOKEN.encode() not in _stored_bytes(tmp_path)
    assert TOKEN not in caplog.text
    assert all(TOKEN not in record.getMessage() for record in caplog.records)
