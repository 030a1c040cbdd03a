"""Who may use the web chat: ``public`` (anyone, the default), ``passcode`` (a browser that gave the
shared passcode: a team's private bot), ``keys`` (nobody without an API key). API keys never change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from botport.app import create_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.settings import Settings
from botport.store.keys import create_api_key

BASE = "http://127.0.0.1:8400"
PASSCODE: dict[str, Any] = {"web_access": "passcode", "web_passcode": SecretStr("open sesame")}
SEED = {"bot_id": DEMO_BOT_ID, "additional_messages": [{"role": "user", "content": "hi"}]}


@asynccontextmanager
async def _botport(tmp_path: Path, **settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    app = create_app(Settings(data_dir=tmp_path, secret_key=SecretStr("a-test-secret-key"), **settings))
    async with app.router.lifespan_context(app):
        async with app.state.services.db.connect() as conn:
            key, _ = await create_api_key(conn, name="program")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE, timeout=30) as client:
            yield client, key


def _code(response: httpx.Response) -> str:
    error = response.json()["error"]
    return str(error["code"])


async def test_a_passcode_lets_a_browser_in_and_a_new_passcode_turns_it_away(tmp_path: Path) -> None:
    async with _botport(tmp_path, **PASSCODE) as (
        client,
        key,
    ):
        config = (await client.get("/api/config")).json()
        assert (config["access"], config["admitted"]) == ("passcode", False)
        refused = await client.get("/api/conversations")
        assert (refused.status_code, _code(refused)) == (401, "passcode_required")
        assert (await client.post("/chat", json=SEED)).status_code == 401
        assert (await client.get("/")).status_code == 200  # the page itself shows the passcode form

        wrong = await client.post("/api/access", json={"passcode": "open sesame!"})
        assert (wrong.status_code, _code(wrong)) == (403, "wrong_passcode")
        right = await client.post("/api/access", json={"passcode": "open sesame"})
        assert right.status_code == 204
        assert "HttpOnly" in right.headers["set-cookie"]
        assert (await client.get("/api/config")).json()["admitted"] is True
        assert (await client.post("/api/conversations", json={})).status_code == 201
        assert (await client.post("/chat", json=SEED)).status_code == 200

        programs = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=client._transport, base_url=BASE) as program:  # no cookies
            assert (await program.get("/api/conversations", headers=programs)).status_code == 200
        pass_cookie = client.cookies["botport_access"]
        identity_cookie = client.cookies["botport_id"]

    # The operator changes the passcode: the old pass no longer opens anything.
    async with _botport(tmp_path, web_access="passcode", web_passcode=SecretStr("new one")) as (client, _):
        client.cookies.set("botport_id", identity_cookie)
        client.cookies.set("botport_access", pass_cookie)
        assert _code(await client.get("/api/conversations")) == "passcode_required"


async def test_a_pass_belongs_to_its_browser(tmp_path: Path) -> None:
    async with _botport(tmp_path, **PASSCODE) as (
        client,
        _,
    ):
        assert (await client.post("/api/access", json={"passcode": "open sesame"})).status_code == 204
        stolen = client.cookies["botport_access"]
        client.cookies.clear()
        client.cookies.set("botport_access", stolen)  # another browser (a fresh identity) with it
        assert _code(await client.get("/api/conversations")) == "passcode_required"


async def test_guessing_the_passcode_is_limited_per_address(tmp_path: Path) -> None:
    async with _botport(tmp_path, **PASSCODE) as (
        client,
        _,
    ):
        statuses = [
            (await client.post("/api/access", json={"passcode": f"guess {n}"})).status_code for n in range(11)
        ]
        assert statuses == [403] * 10 + [429]
        client.cookies.clear()  # a new cookie does not help
        late = await client.post("/api/access", json={"passcode": "open sesame"})
        assert late.status_code == 429 and int(late.headers["Retry-After"]) >= 1


async def test_keys_only_closes_the_web_chat_but_not_the_api(tmp_path: Path) -> None:
    async with _botport(tmp_path, web_access="keys") as (client, key):
        config = (await client.get("/api/config")).json()
        assert (config["access"], config["admitted"]) == ("keys", False)
        for response in (
            await client.get("/api/conversations"),
            await client.post("/api/conversations", json={}),
        ):
            assert (response.status_code, _code(response)) == (401, "api_key_required")
        assert (await client.post("/chat", json=SEED)).status_code == 401
        no_passcode = await client.post("/api/access", json={"passcode": "anything"})
        assert (no_passcode.status_code, _code(no_passcode)) == (404, "no_passcode")
        programs = {"Authorization": f"Bearer {key}"}
        created = await client.post("/api/conversations", json={}, headers=programs)
        assert created.status_code == 201
        sent = await client.post(
            f"/api/conversations/{created.json()['id']}/messages", json={"content": "hi"}, headers=programs
        )
        assert sent.status_code == 200


def test_passcode_access_needs_a_passcode(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="web_passcode"):
        Settings(data_dir=tmp_path, web_access="passcode")
    with pytest.raises(ValidationError, match="web_passcode"):
        Settings(data_dir=tmp_path, web_access="passcode", web_passcode=SecretStr("  "))
