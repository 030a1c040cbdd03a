"""Cookie tossing: another site on this host (another port, a sibling subdomain) plants a second,
validly signed identity cookie — its own — in the visitor's browser. botport took the first one it saw,
so the visitor chatted as the attacker. Now: on https the cookie is ``__Host-botport_id``, which no
other site can set; and a request carrying two identity cookies is refused (400) and its answer deletes
the planted one, never served as either identity. (In Chromium: tests/browser/test_cross_site.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from botport.app import create_app
from botport.settings import Settings


@asynccontextmanager
async def _botport(tmp_path: Path, base: str, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(data_dir=tmp_path, secret_key=SecretStr("a-test-secret-key"), **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            yield client


def _set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


async def _identity_cookie(client: httpx.AsyncClient, title: str, name: str = "botport_id") -> str:
    """A fresh identity's signed cookie, with one conversation titled ``title`` in it."""
    client.cookies.clear()
    created = await client.post("/api/conversations", json={"title": title})
    assert created.status_code == 201, created.text
    return str(client.cookies[name])


def _conflict(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "identity_cookie_conflict"


async def test_two_identity_cookies_are_refused_and_the_answer_deletes_the_planted_one(
    tmp_path: Path,
) -> None:
    async with _botport(tmp_path, "http://chat.team.example.com:8400") as client:
        victim = await _identity_cookie(client, "the visitor's")
        planted = await _identity_cookie(client, "attacker's bait")
        client.cookies.clear()
        both = {"Cookie": f"botport_id={planted}; botport_id={victim}"}  # a longer path is sent first

        listed = await client.get("/api/conversations", headers=both)
        _conflict(listed)
        assert "bait" not in listed.text and "visitor" not in listed.text
        created = await client.post("/api/conversations", json={"title": "new"}, headers=both)
        _conflict(created)
        sent = await client.post("/chat", json={"message": "hi"}, headers=both)
        assert sent.status_code == 400 and "two botport identity cookies" in sent.json()["error"]

        removals = _set_cookies(listed)
        assert all(c.startswith("botport_id=;") and "Max-Age=0" in c for c in removals)
        paths = {part.strip() for c in removals for part in c.split(";") if part.strip().startswith("Path=")}
        assert {"Path=/api", "Path=/api/", "Path=/api/conversations"} <= paths
        # botport's own cookie (host-only, Path=/) is never among them; the domain ones are.
        assert not [c for c in removals if c.endswith("Path=/")]
        domains = {c.rpartition("Domain=")[2] for c in removals if "Domain=" in c}
        assert domains == {"chat.team.example.com", "team.example.com", "example.com"}

        # The page still loads, and its answer deletes the planted cookie as well (no new identity).
        page = await client.get("/", headers=both)
        assert page.status_code == 200
        assert not [c for c in _set_cookies(page) if "Max-Age=0" not in c]

        # Nothing was stored for either identity.
        for cookie, title in ((victim, "the visitor's"), (planted, "attacker's bait")):
            client.cookies.clear()
            items = (
                await client.get("/api/conversations", headers={"Cookie": f"botport_id={cookie}"})
            ).json()["items"]
            assert [c["title"] for c in items] == [title]


async def test_on_https_the_cookie_is_host_only_and_a_planted_plain_one_is_ignored(tmp_path: Path) -> None:
    async with _botport(
        tmp_path, "https://chat.example.org", public_url="https://chat.example.org"
    ) as client:
        first = await client.get("/api/conversations")
        (cookie,) = _set_cookies(first)
        name_value, *attributes = [part.strip() for part in cookie.split(";")]
        assert name_value.startswith("__Host-botport_id=")
        assert {"Secure", "Path=/", "HttpOnly", "SameSite=Lax"} <= set(attributes)
        assert not [a for a in attributes if a.lower().startswith("domain")]  # what __Host- requires

        own = await _identity_cookie(client, "mine", name="__Host-botport_id")
        # A sibling subdomain can only plant a plain botport_id: it is not botport's cookie any more.
        client.cookies.clear()
        planted = {"Cookie": f"botport_id=whatever.sig; __Host-botport_id={own}"}
        items = (await client.get("/api/conversations", headers=planted)).json()["items"]
        assert [c["title"] for c in items] == ["mine"]


async def test_https_from_a_trusted_proxy_also_gets_the_host_only_cookie(tmp_path: Path) -> None:
    async with _botport(tmp_path, "http://127.0.0.1:8400") as client:
        proxied = httpx.ASGITransport(app=client._transport.app, client=("127.0.0.1", 5000))  # type: ignore[attr-defined]
        async with httpx.AsyncClient(transport=proxied, base_url="http://127.0.0.1:8400") as behind:
            response = await behind.get("/healthz", headers={"X-Forwarded-Proto": "https"})
            (cookie,) = _set_cookies(response)
            assert cookie.startswith("__Host-botport_id=") and "; Secure" in cookie
        plain = await client.get("/healthz")  # httpx's own test client address is not a proxy
        (cookie,) = _set_cookies(plain)
        assert cookie.startswith("botport_id=") and "Secure" not in cookie
