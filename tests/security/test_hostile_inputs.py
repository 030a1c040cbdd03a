"""Hostile and odd inputs get a clear 4xx (or their normal answer), never a 500, and leave nothing
half-stored. botport in demo mode, in process (its emulator answers)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from botport.app import create_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.settings import Settings
from botport.store.keys import create_api_key
from botport.upstream.models import Message, storable_text

BASE = "http://gateway.test"
SURROGATE = '"\\ud800 lone"'  # JSON text: a lone UTF-16 surrogate, which Python decodes as is


@pytest.fixture
async def botport(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    app = create_app(Settings(data_dir=tmp_path, secret_key=SecretStr("a-test-secret-key-for-cookies")))
    async with app.router.lifespan_context(app):
        async with app.state.services.db.connect() as conn:
            key, _ = await create_api_key(conn, name="hostile inputs")
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30) as client:
            yield client, {"Authorization": f"Bearer {key}"}


async def _conversations(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> list[Any]:
    response = await client.get("/api/conversations", headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def test_a_cookie_with_non_ascii_bytes_is_a_new_identity_not_a_500(botport: Any) -> None:
    client, _ = botport
    hostile = [(b"cookie", b"botport_id=abc.\xc3\xa9")]
    for path in ("/healthz", "/api/conversations", "/"):
        response = await client.get(path, headers=hostile)
        assert response.status_code == 200, (path, response.status_code)


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_a_paging_cursor_at_the_calendars_edge_is_a_400(botport: Any, stamp: str) -> None:
    client, _ = botport
    cursor = base64.urlsafe_b64encode(json.dumps([stamp, "x"]).encode()).decode().rstrip("=")
    response = await client.get("/api/conversations", params={"before": cursor})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == "invalid paging cursor"


async def test_head_answers_where_get_does(botport: Any) -> None:
    """Uptime monitors send HEAD."""
    client, _ = botport
    created = await client.post("/api/conversations", json={})
    for path in ("/", f"/c/{created.json()['id']}", "/healthz"):
        response = await client.head(path)
        assert response.status_code == 200, (path, response.status_code)
    assert "/healthz" in (await client.get("/openapi.json")).json()["paths"]  # GET still documented


async def test_a_lone_surrogate_is_a_4xx_on_every_turn_path_and_stores_nothing(botport: Any) -> None:
    client, key = botport
    json_headers = {"content-type": "application/json"}
    seed = (
        f'{{"bot_id": "{DEMO_BOT_ID}", "additional_messages": [{{"role": "user", "content": {SURROGATE}}}]}}'
    )
    chat = await client.post("/chat", content=seed, headers=json_headers)
    assert 400 <= chat.status_code < 500, chat.text
    question = f'{{"model": "demo", "messages": [{{"role": "user", "content": {SURROGATE}}}]}}'
    history = (
        '{"model": "demo", "messages": [{"role": "user", "content": "earlier"},'
        f'{{"role": "assistant", "content": {SURROGATE}}}, {{"role": "user", "content": "now"}}]}}'
    )
    for body in (question, history):
        response = await client.post("/v1/chat/completions", content=body, headers={**json_headers, **key})
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["error"]["param"].startswith("messages[")  # OpenAI's shape, pointing at it
    ask = f'{{"question": {SURROGATE}}}'
    tool = await client.post("/api/tool/ask", content=ask, headers={**json_headers, **key})
    assert 400 <= tool.status_code < 500, tool.text
    assert await _conversations(client, key) == []
    # The /chat page's conversation may exist (it is made before the question), but holds nothing.
    for conversation in await _conversations(client):
        messages = await client.get(f"/api/conversations/{conversation['id']}/messages")
        assert messages.json()["items"] == []


async def test_too_long_a_history_is_a_413_before_anything_is_matched_or_stored(botport: Any) -> None:
    client, key = botport
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(1001)]
    response = await client.post(
        "/v1/chat/completions", json={"model": "demo", "messages": messages}, headers=key
    )
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "too_many_messages" and error["param"] == "messages"
    assert await _conversations(client, key) == []


def test_coze_text_that_no_database_takes_is_made_storable() -> None:
    """A NUL (PostgreSQL refuses it in text) or a lone surrogate from Coze becomes U+FFFD at the
    upstream boundary, so a bot's odd answer can always be stored and shown."""
    message = Message.model_validate({"content": "a\x00b\ud800c", "reasoning_content": "\x00"})
    assert (message.content, message.reasoning_content) == ("a\ufffdb\ufffdc", "\ufffd")
    assert storable_text("plain 中文 ✓") == "plain 中文 ✓"
