"""Cookie-authenticated unsafe requests from another site are refused (403), on every such route;
API-key requests, requests from botport's own page and non-browser clients are not. CORS is off
unless origins are configured, and then its preflight works. (Chromium: tests/browser/test_cross_site.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from botport.app import create_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.settings import Settings
from botport.store.keys import create_api_key

BASE = "http://127.0.0.1:8400"
QUESTION = {"content": "hi", "stream": False}
FOREIGN = {
    "another site": {"Origin": "http://evil.example"},
    "another site, per the browser": {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    "another port of this host": {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"},
    "a sandboxed page": {"Origin": "null"},
}
OWN = {
    "botport's own page": {"Origin": BASE, "Sec-Fetch-Site": "same-origin"},
    "an old browser on botport's page": {"Origin": BASE},
    "the address bar": {"Sec-Fetch-Site": "none"},
    "a script (no browser headers)": {},
}


@asynccontextmanager
async def _botport(tmp_path: Path, **settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    secret = SecretStr("a-test-secret-key-for-cookies")
    app = create_app(Settings(data_dir=tmp_path, secret_key=secret, **settings))
    async with app.router.lifespan_context(app):
        async with app.state.services.db.connect() as conn:
            key, _ = await create_api_key(conn, name="cross-site")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE, timeout=30) as client:
            yield client, key


async def _unsafe_calls(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, int]:
    """Every cookie-authenticated unsafe route, with ``headers``; their statuses."""
    own = await client.post("/api/conversations", json={})  # made from botport's own page
    cid = own.json()["id"]
    base = f"/api/conversations/{cid}"
    seed = {"bot_id": DEMO_BOT_ID, "additional_messages": [{"role": "user", "content": "hi"}]}
    calls = {
        "create": await client.post("/api/conversations", json={}, headers=headers),
        "send": await client.post(
            f"{base}/messages", json={"content": "hi", "stream": False}, headers=headers
        ),
        "rename": await client.patch(base, json={"title": "pwned"}, headers=headers),
        "cancel": await client.post(f"{base}/cancel", headers=headers),
        "chat": await client.post("/chat", json=seed, headers=headers),
        "delete": await client.delete(base, headers=headers),
    }
    return {name: response.status_code for name, response in calls.items()}


@pytest.mark.parametrize("where", FOREIGN)
async def test_another_sites_cookie_requests_are_refused_and_change_nothing(
    tmp_path: Path, where: str
) -> None:
    async with _botport(tmp_path) as (client, _):
        statuses = await _unsafe_calls(client, FOREIGN[where])
        assert set(statuses.values()) == {403}, statuses
        conversations = (await client.get("/api/conversations")).json()["items"]
        assert [c["title"] for c in conversations] == [""]  # only the page's own, untouched
        assert (await client.get(f"/api/conversations/{conversations[0]['id']}/messages")).json()[
            "items"
        ] == []
        refused = await client.post("/api/conversations", json={}, headers=FOREIGN[where])
        assert refused.json()["error"]["code"] == "cross_site_request"
        assert "set-cookie" not in refused.headers


@pytest.mark.parametrize("where", OWN)
async def test_the_own_page_and_scripts_pass(tmp_path: Path, where: str) -> None:
    async with _botport(tmp_path) as (client, _):
        statuses = await _unsafe_calls(client, OWN[where])
        assert 403 not in statuses.values(), statuses
        assert statuses["create"] == 201 and statuses["delete"] == 204


async def test_api_key_requests_are_not_checked(tmp_path: Path) -> None:
    async with _botport(tmp_path) as (client, key):
        headers = {**FOREIGN["another site, per the browser"], "Authorization": f"Bearer {key}"}
        chat = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
        assert (await client.post("/v1/chat/completions", json=chat, headers=headers)).status_code == 200
        assert (await client.post("/api/conversations", json={}, headers=headers)).status_code == 201


async def test_v1_refusals_take_openais_shape(tmp_path: Path) -> None:
    async with _botport(tmp_path) as (client, _):
        chat = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
        refused = await client.post("/v1/chat/completions", json=chat, headers=FOREIGN["another site"])
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "cross_site_request"


async def test_a_configured_public_url_is_this_site(tmp_path: Path) -> None:
    """Behind a proxy the Host may differ from what the browser shows; the public URL is this site."""
    async with _botport(tmp_path, public_url="https://chat.example.com") as (client, _):
        ok = await client.post("/api/conversations", json={}, headers={"Origin": "https://chat.example.com"})
        assert ok.status_code == 201
        evil = await client.post(
            "/api/conversations", json={}, headers={"Origin": "https://evil.example.com"}
        )
        assert evil.status_code == 403


async def test_cors_is_off_by_default(tmp_path: Path) -> None:
    async with _botport(tmp_path) as (client, _):
        preflight = await client.options(
            "/v1/chat/completions", headers=_preflight("https://nextchat.example")
        )
        assert "access-control-allow-origin" not in preflight.headers


async def test_configured_origins_get_a_working_preflight_and_no_others(tmp_path: Path) -> None:
    allowed = "https://nextchat.example"
    async with _botport(tmp_path, cors_origins=[allowed]) as (client, key):
        preflight = await client.options("/v1/chat/completions", headers=_preflight(allowed))
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == allowed
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        # Every request header of the documented API: rendered snapshots, resuming a stream.
        for header in ("X-Botport-Render", "Last-Event-ID", "Idempotency-Key"):
            asked = await client.options(
                "/api/bots", headers={**_preflight(allowed), "Access-Control-Request-Headers": header}
            )
            assert asked.status_code == 200, header
            assert header.lower() in asked.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in preflight.headers  # cookies never cross
        other = await client.options("/v1/chat/completions", headers=_preflight("https://evil.example"))
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"
        chat = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
        headers = {"Origin": allowed, "Sec-Fetch-Site": "cross-site", "Authorization": f"Bearer {key}"}
        answer = await client.post("/v1/chat/completions", json=chat, headers=headers)
        assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == allowed


def test_cors_origins_come_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTPORT_CORS_ORIGINS", "https://a.example, https://b.example/")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("BOTPORT_CORS_ORIGINS", "a.example")
    with pytest.raises(ValueError, match="CORS origin"):
        Settings()


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
