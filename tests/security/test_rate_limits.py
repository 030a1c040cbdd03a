"""Limits per caller: 120 anonymous turns a minute used to be 120 paid Coze turns, and 2,000 requests a
minute from one browser got no 429. Now a browser has requests and turns a minute, answers at once,
and — since dropping the cookie makes a new identity — so does its client address; an API key has
its quota (requests a minute, answers at once, turns and tokens a day). Over a limit: 429 with
Retry-After, in OpenAI's shape on /v1; nothing is stored. Client addresses here come from a trusted
proxy's X-Forwarded-For (loopback is trusted by default), each test its own."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pydantic import SecretStr

from botport.app import create_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.settings import Settings
from botport.store import keys
from botport.store.records import KeyQuota

BASE = "http://127.0.0.1:8400"
SEED = {"bot_id": DEMO_BOT_ID, "additional_messages": [{"role": "user", "content": "hi"}]}


def _address() -> str:
    """An address of its own for each test: with Redis, limits outlive an app."""
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


@asynccontextmanager
async def _botport(tmp_path: Path, **settings: Any) -> AsyncIterator[Any]:
    secret = SecretStr("a-test-secret-key-for-cookies")
    app = create_app(Settings(data_dir=tmp_path, secret_key=secret, **settings))
    async with app.router.lifespan_context(app):
        yield app


def _client(app: Any, address: str) -> httpx.AsyncClient:
    """A browser at ``address`` (behind the trusted proxy on loopback), with a cookie jar of its own."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app, client=("127.0.0.1", 40000)),
        base_url=BASE,
        headers={"X-Forwarded-For": address},
        timeout=30,
    )


def _refused(response: httpx.Response, code: str = "rate_limited") -> int:
    assert response.status_code == 429, response.text
    body = response.json()["error"]
    error_code = body if isinstance(body, str) else body["code"]
    assert error_code == code or isinstance(body, str)
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 86400
    return retry_after


async def _stored_conversations(app: Any) -> int:
    async with app.state.services.db.read() as conn:
        rows = await conn.exec_driver_sql("SELECT count(*) FROM conversations")
        return int(rows.scalar_one())


async def test_a_browsers_turns_are_limited_and_a_new_cookie_does_not_reset_its_address(
    tmp_path: Path,
) -> None:
    async with _botport(tmp_path, turns_per_minute=2, address_turns_per_minute=3) as app:
        address = _address()
        async with _client(app, address) as browser:
            for _ in range(2):
                assert (await browser.post("/chat", json=SEED)).status_code == 200
            refused = await browser.post("/chat", json=SEED)
            _refused(refused)
            assert "try again in" in refused.json()["error"]
            stored = await _stored_conversations(app)
        async with _client(app, address) as same_place_new_cookie:
            created = await same_place_new_cookie.post("/api/conversations", json={})
            cid = created.json()["id"]
            sent = await same_place_new_cookie.post(
                f"/api/conversations/{cid}/messages", json={"content": "hi"}
            )
            assert sent.status_code == 200, sent.text  # the address's third
            again = await same_place_new_cookie.post(
                f"/api/conversations/{cid}/messages", json={"content": "hi"}
            )
            assert "turns a minute" not in again.text
            _refused(again)
            messages = (await same_place_new_cookie.get(f"/api/conversations/{cid}/messages")).json()["items"]
            assert len(messages) == 2  # the refused message was not stored
        assert await _stored_conversations(app) == stored + 1
        async with _client(app, _address()) as elsewhere:
            assert (await elsewhere.post("/chat", json=SEED)).status_code == 200


async def test_a_browsers_requests_a_minute_are_limited_but_health_and_assets_are_not(tmp_path: Path) -> None:
    limits = {"requests_per_minute": 5, "address_requests_per_minute": 8}
    async with _botport(tmp_path, **limits) as app, _client(app, _address()) as browser:
        for _ in range(5):
            assert (await browser.get("/api/conversations")).status_code == 200
        retry_after = _refused(await browser.get("/api/conversations"))
        assert retry_after <= 60 / 5 + 1
        assert (await browser.get("/healthz")).status_code == 200
        assert (await browser.get("/static/app.css")).status_code == 200
        assert (await browser.get("/embed.js")).status_code == 200  # on every page of the sites embedding it
        # A fresh cookie at the same address gets the address's rest: 3 more.
        browser.cookies.clear()
        statuses = [(await browser.get("/api/conversations")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]


@pytest.mark.live
async def test_answers_at_once_per_browser(tmp_path: Path, live_server: Callable[..., Any]) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr("a-test-secret-key"), concurrent_turns=1)
    server = live_server(create_app(settings))
    headers = {"X-Forwarded-For": _address()}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as browser:
        first, second = [
            (await browser.post("/api/conversations", json={"bot": "slow"})).json()["id"] for _ in range(2)
        ]
        question = {"content": "tell me a long story", "stream": True}
        async with browser.stream("POST", f"/api/conversations/{first}/messages", json=question) as running:
            assert running.status_code == 200
            refused = await browser.post(f"/api/conversations/{second}/messages", json=question)
            assert _refused(refused) >= 1
            assert "already being written" in refused.json()["error"]["message"]
            assert (await browser.post(f"/api/conversations/{first}/cancel")).status_code == 200
        for _ in range(50):  # the slot is given back when the turn has ended
            answer = await browser.post(f"/api/conversations/{second}/messages", json={"content": "hi"})
            if answer.status_code != 429:
                break
            await asyncio.sleep(0.1)
        assert answer.status_code == 200, answer.text


async def _key(app: Any, quota: KeyQuota) -> tuple[str, str]:
    async with app.state.services.db.connect() as conn:
        plaintext, record = await keys.create_api_key(conn, name="limited", quota=quota)
    return plaintext, record.id


def _openai(app: Any, key: str) -> openai.AsyncOpenAI:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app), timeout=30)
    return openai.AsyncOpenAI(api_key=key, base_url=f"{BASE}/v1", http_client=http, max_retries=0)


async def test_a_keys_daily_turns_quota_gives_openai_a_rate_limit_error(tmp_path: Path) -> None:
    async with _botport(tmp_path) as app:
        key, key_id = await _key(app, KeyQuota(turns_per_day=2))
        client = _openai(app, key)
        for n in range(2):
            await client.chat.completions.create(
                model="demo", messages=[{"role": "user", "content": f"hi {n}"}]
            )
        with pytest.raises(openai.RateLimitError) as refused:
            await client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "more"}])
        assert refused.value.code == "quota_exceeded"
        assert refused.value.body["type"] == "rate_limit_error"  # type: ignore[index]
        assert 1 <= int(refused.value.response.headers["Retry-After"]) <= 86400
        async with app.state.services.db.read() as conn:
            usage = await keys.usage_by_key(conn)
        turns_today, tokens_today, turns, tokens = usage[key_id]
        assert (turns_today, turns) == (2, 2)
        assert tokens_today == tokens > 0


async def test_a_keys_daily_tokens_quota_and_requests_a_minute(tmp_path: Path) -> None:
    async with _botport(tmp_path) as app:
        key, _ = await _key(app, KeyQuota(tokens_per_day=1, requests_per_minute=4))
        client = _openai(app, key)
        await client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.RateLimitError) as over_tokens:
            await client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "hi"}])
        assert "tokens" in over_tokens.value.message
        await client.models.list()
        await client.models.list()
        with pytest.raises(openai.RateLimitError) as over_requests:
            await client.models.list()  # the fifth request this minute
        assert over_requests.value.code == "rate_limited"


async def test_a_key_without_a_quota_is_not_limited_per_turn(tmp_path: Path) -> None:
    async with _botport(tmp_path, turns_per_minute=1, concurrent_turns=1) as app:
        key, _ = await _key(app, KeyQuota())
        client = _openai(app, key)
        answers = await asyncio.gather(
            *(
                client.chat.completions.create(model="demo", messages=[{"role": "user", "content": f"q{n}"}])
                for n in range(4)
            )
        )
        assert len(answers) == 4


async def test_instances_sharing_redis_share_the_limits(tmp_path: Path) -> None:
    shared = {"redis_url": "redis://127.0.0.1:6379/0", "turns_per_minute": 100, "address_turns_per_minute": 3}
    address = _address()
    async with (
        _botport(tmp_path / "a", **shared) as one,
        _botport(tmp_path / "b", **shared) as two,
    ):
        statuses = []
        for app in (one, two, one, two):
            async with _client(app, address) as browser:
                statuses.append((await browser.post("/chat", json=SEED)).status_code)
        assert statuses == [200, 200, 200, 429]
