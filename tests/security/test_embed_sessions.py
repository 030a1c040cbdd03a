"""Who a visitor of the chat widget is (docs/embed.md): a token in the X-Botport-Embed header, anonymous
or a user the host site's server signed (HMAC-SHA256 with the site's secret). A forged, tampered,
expired or withdrawn token is refused, never taken for someone else; a bad signature shows nobody's
history; the limits count embed visitors like browsers, by address too; web_access is followed."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from botport.app import create_app
from botport.embed_tokens import EMBED_COOKIE, EmbedTokens, _b64, _unb64
from botport.emulator.bots import DEMO_BOT_ID, TOOL_BOT_ID
from botport.identity import IdentitySigner
from botport.settings import BotConfig, Settings

BASE = "http://127.0.0.1:8400"
SHOP = "https://shop.example.com"
BLOG = "https://blog.example.org"
SHOP_SECRET = "the-shop-servers-secret-0123456789"
SERVER_SECRET = "a-test-secret-key-for-embed"


def _bots(shop_too: bool = True) -> list[BotConfig]:
    return [
        BotConfig(slug="support", bot_id=DEMO_BOT_ID, embed_origins=[SHOP, BLOG] if shop_too else [BLOG]),
        BotConfig(slug="sales", bot_id=TOOL_BOT_ID, embed_origins=[BLOG]),
    ]


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "secret_key": SecretStr(SERVER_SECRET),
        "bots": _bots(),
        "embed_secrets": {SHOP: SecretStr(SHOP_SECRET)},
    }
    return Settings(**(values | overrides))


@asynccontextmanager
async def _app(tmp_path: Path, **overrides: Any) -> AsyncIterator[FastAPI]:
    app = create_app(_settings(tmp_path, **overrides))
    async with app.router.lifespan_context(app):
        yield app


def _client(app: FastAPI, address: str = "10.1.2.3") -> httpx.AsyncClient:
    """A browser at ``address`` (behind the trusted proxy on loopback), with a cookie jar of its own."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app, client=("127.0.0.1", 40000)),
        base_url=BASE,
        headers={"X-Forwarded-For": address, "Sec-Fetch-Site": "same-origin"},
        timeout=30,
    )


def _sign(user_id: str, secret: str = SHOP_SECRET) -> str:
    """What the host site's server does (docs/embed.md), written here on its own."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def _session(client: httpx.AsyncClient, slug: str = "support", **body: Any) -> httpx.Response:
    return await client.post(f"/embed/{slug}/session", json={"site": SHOP} | body)


async def _token(client: httpx.AsyncClient, slug: str = "support", **body: Any) -> str:
    response = await _session(client, slug, **body)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def _as(token: str) -> dict[str, str]:
    return {"X-Botport-Embed": token}


async def _titles(client: httpx.AsyncClient, token: str) -> list[str]:
    response = await client.get("/api/conversations", headers=_as(token))
    assert response.status_code == 200, response.text
    return [c["title"] for c in response.json()["items"]]


async def _create(client: httpx.AsyncClient, token: str, title: str) -> str:
    response = await client.post(
        "/api/conversations", json={"bot": "support", "title": title}, headers=_as(token)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_an_anonymous_visitor_keeps_its_history_by_its_token(tmp_path: Path) -> None:
    async with _app(tmp_path) as app, _client(app) as browser:
        started = await _session(browser)
        assert started.status_code == 200
        assert started.json()["kind"] == "anonymous" and started.json()["user_id"] is None
        token = started.json()["token"]
        # The partitioned cookie keeps it for the next visit where third-party storage is denied.
        cookie = started.headers["set-cookie"]
        for attribute in ("HttpOnly", "Secure", "SameSite=None", "Partitioned", "Path=/"):
            assert attribute in cookie
        assert cookie.startswith(f"{EMBED_COOKIE}=")

        await _create(browser, token, "mine")
        assert await _titles(browser, token) == ["mine"]
        # Asked (talking and streaming), no cookie identity of botport's is set on the header's path.
        conversation = await _create(browser, token, "second")
        answer = await browser.post(
            f"/api/conversations/{conversation}/messages", json={"content": "hi"}, headers=_as(token)
        )
        assert answer.status_code == 200, answer.text
        assert "set-cookie" not in answer.headers

        # The next visit: the token kept by the frame, or only the partitioned cookie: the same visitor.
        async with _client(app) as storage_only:
            again = await _token(storage_only, token=token)
        assert set(await _titles(browser, again)) == {"mine", "second"}
        async with _client(app) as cookie_only:  # what the browser sends from its partition (https)
            kept = cookie.split(";")[0].partition("=")[2]
            response = await cookie_only.post(
                "/embed/support/session", json={"site": SHOP}, headers={"Cookie": f"{EMBED_COOKIE}={kept}"}
            )
            assert set(await _titles(browser, response.json()["token"])) == {"mine", "second"}
            # From another site's frame, that cookie is not this site's visitor.
            blog = await cookie_only.post(
                "/embed/support/session", json={"site": BLOG}, headers={"Cookie": f"{EMBED_COOKIE}={kept}"}
            )
            assert await _titles(browser, blog.json()["token"]) == []
        # Someone else (no token, no cookie) is someone else.
        async with _client(app) as stranger:
            assert await _titles(stranger, await _token(stranger)) == []


async def test_a_signed_user_has_one_history_on_every_device(tmp_path: Path) -> None:
    async with _app(tmp_path) as app, _client(app, "10.0.0.1") as phone, _client(app, "10.0.0.2") as laptop:
        started = await _session(phone, user_id="42", user_hash=_sign("42"))
        assert started.status_code == 200
        assert (started.json()["kind"], started.json()["user_id"]) == ("user", "42")
        assert "set-cookie" not in started.headers  # a user's token is never kept by the browser
        await _create(phone, started.json()["token"], "from the phone")
        # Another device, another browser: the same user, the same history.
        other = await _token(laptop, user_id="42", user_hash=_sign("42").upper())
        assert await _titles(laptop, other) == ["from the phone"]
        # Distinct from other users, from anonymous visitors of the same browser, from another site's 42.
        assert await _titles(laptop, await _token(laptop, user_id="43", user_hash=_sign("43"))) == []
        assert await _titles(phone, await _token(phone)) == []
        blog_secret = "the-blog-servers-secret-987654321"
    async with (
        _app(tmp_path, embed_secrets={SHOP: SecretStr(SHOP_SECRET), BLOG: SecretStr(blog_secret)}) as app,
        _client(app) as browser,
    ):
        blog_42 = await _token(browser, site=BLOG, user_id="42", user_hash=_sign("42", blog_secret))
        assert await _titles(browser, blog_42) == []
        shop_42 = await _token(browser, user_id="42", user_hash=_sign("42"))
        assert await _titles(browser, shop_42) == ["from the phone"]  # stored, it stays


async def test_a_bad_signature_is_refused_and_shows_nobodys_history(tmp_path: Path) -> None:
    async with _app(tmp_path) as app, _client(app) as browser:
        victim = await _token(browser, user_id="42", user_hash=_sign("42"))
        await _create(browser, victim, "the victim's")
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"user_id": "42", "user_hash": _sign("43")}, 403, "invalid_user_hash"),  # another user's
            (
                {"user_id": "42", "user_hash": _sign("42", "a-guessed-secret-0123456")},
                403,
                "invalid_user_hash",
            ),
            ({"user_id": "42", "user_hash": _sign("42")[:-1]}, 403, "invalid_user_hash"),
            ({"user_id": "42", "user_hash": "é" * 64}, 403, "invalid_user_hash"),
            ({"user_id": "42"}, 400, "invalid_user"),
            ({"user_hash": _sign("42")}, 400, "invalid_user"),
            ({"user_id": " 42", "user_hash": _sign(" 42")}, 400, "invalid_user"),
            ({"user_id": "", "user_hash": _sign("")}, 400, "invalid_user"),
            ({"user_id": "4\n2", "user_hash": _sign("4\n2")}, 400, "invalid_user"),
            ({"site": BLOG, "user_id": "42", "user_hash": _sign("42")}, 403, "identity_not_configured"),
            ({"user_id": 42, "user_hash": _sign("42")}, 422, "invalid_request"),
        ]
        for body, status, code in cases:
            response = await _session(browser, **body)
            assert (response.status_code, _code(response)) == (status, code), body
            assert "token" not in response.json() and "the victim's" not in response.text
            assert "set-cookie" not in response.headers
            assert SHOP_SECRET not in response.text


async def test_a_forged_or_withdrawn_token_is_refused_never_taken_for_another(tmp_path: Path) -> None:
    async with _app(tmp_path) as app, _client(app) as browser:
        token = await _token(browser)
        user = await _token(browser, user_id="42", user_hash=_sign("42"))
        await _create(browser, user, "the user's")
        version, payload, signature = token.split(".")
        fields = json.loads(_unb64(payload))
        promoted = [*fields[:1], "user", *fields[2:4], f"{_site_tag()}:42", *fields[5:]]
        forged = [
            "",
            "garbage",
            f"{version}.{payload}.",
            f"{version}.{payload}.{signature[:-2]}AA",
            f"{version}.{_b64(json.dumps(promoted).encode())}.{signature}",  # the user's history, unsigned
            f"{version}.{_b64(json.dumps([*fields[:5], fields[5] + 10**6]).encode())}.{signature}",
            f"e2.{payload}.{signature}",
            token + "x" * 3000,
            _other_server_token(),
        ]
        for bad in forged:
            response = await browser.get("/api/conversations", headers=_as(bad))
            assert (response.status_code, _code(response)) == (401, "invalid_embed_token"), bad
            assert "the user's" not in response.text
        # A bad header is never passed over for the cookie this browser also has.
        assert (await browser.get("/api/config")).status_code == 200  # the jar now has botport_id
        assert (await browser.get("/api/conversations", headers=_as("garbage"))).status_code == 401
        assert (await browser.get("/api/conversations", headers=_as(token))).status_code == 200

    # The operator removes the shop from the bot's sites, and its secret: its tokens stop working.
    async with _app(tmp_path, bots=_bots(shop_too=False), embed_secrets={}) as app, _client(app) as browser:
        for withdrawn in (token, user):
            response = await browser.get("/api/conversations", headers=_as(withdrawn))
            assert (response.status_code, _code(response)) == (401, "invalid_embed_token")
    # Only the secret goes: the users' tokens stop, the anonymous ones go on.
    async with _app(tmp_path, embed_secrets={}) as app, _client(app) as browser:
        assert (await browser.get("/api/conversations", headers=_as(user))).status_code == 401
        assert (await browser.get("/api/conversations", headers=_as(token))).status_code == 200


def _site_tag() -> str:
    return hashlib.sha256(SHOP.encode()).hexdigest()[:16]


def _other_server_token() -> str:
    """A well-formed token for the shop, signed with another server's secret."""
    settings = Settings(secret_key=SecretStr("another-server"), bots=_bots())
    from botport.bots import BotRegistry

    token, _ = EmbedTokens(IdentitySigner(b"another-server"), settings, BotRegistry(_bots())).issue(
        "user", "support", SHOP, "42"
    )
    return token


async def test_tokens_expire(tmp_path: Path) -> None:
    from botport.bots import BotRegistry

    now = [1_000_000.0]
    settings = _settings(tmp_path)
    tokens = EmbedTokens(
        IdentitySigner(SERVER_SECRET.encode()), settings, BotRegistry(_bots()), clock=lambda: now[0]
    )
    user, claims = tokens.issue("user", "support", SHOP, "42")
    anonymous, _ = tokens.issue("embed", "support", SHOP)
    assert tokens.verify(user) == claims
    now[0] += 12 * 3600 + 1  # a user's token lasts hours: the frame asks again with the user hash
    assert tokens.verify(user) is None and tokens.verify(anonymous) is not None
    now[0] += 400 * 24 * 3600
    assert tokens.verify(anonymous) is None
    # A token for a bot the server no longer has, or a site that bot does not allow.
    assert tokens.verify(tokens.issue("embed", "gone", SHOP)[0]) is None
    assert tokens.verify(tokens.issue("embed", "sales", SHOP)[0]) is None


async def test_the_session_cannot_be_asked_from_another_site(tmp_path: Path) -> None:
    async with _app(tmp_path) as app, _client(app) as browser:
        token = await _token(browser)  # the iframe (botport's own origin): same-origin
        # The host page (or any page) POSTing with the partitioned cookie: refused before the route.
        forged = await browser.post(
            "/embed/support/session", json={"site": SHOP}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert (forged.status_code, _code(forged)) == (403, "cross_site_request")
        # The header is not a cookie: a request that carries it is not cross-site in any browser
        # (a page on another site cannot add it without a CORS preflight botport never grants).
        preflight = await browser.options(
            "/api/conversations",
            headers={
                "Origin": SHOP,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-botport-embed",
            },
        )
        assert "access-control-allow-origin" not in preflight.headers
        assert (await browser.get("/api/conversations", headers=_as(token))).status_code == 200


async def test_new_tokens_do_not_escape_the_limits_of_an_address(tmp_path: Path) -> None:
    limits = {"address_turns_per_minute": 1, "turns_per_minute": 5}
    async with _app(tmp_path, **limits) as app, _client(app, f"10.9.{secrets.randbelow(250)}.7") as browser:
        first = await _token(browser)
        conversation = await _create(browser, first, "one")
        sent = await browser.post(
            f"/api/conversations/{conversation}/messages", json={"content": "hi"}, headers=_as(first)
        )
        assert sent.status_code == 200, sent.text
        browser.cookies.clear()  # a new visitor, as far as tokens go
        second = await _token(browser)
        assert second.split(".")[1] != first.split(".")[1]
        other = await _create(browser, second, "two")
        refused = await browser.post(
            f"/api/conversations/{other}/messages", json={"content": "hi"}, headers=_as(second)
        )
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    async with _app(tmp_path, address_requests_per_minute=3) as app, _client(app, "10.8.8.8") as browser:
        statuses = [(await _session(browser)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]  # minting tokens is counted by address too


async def test_the_widget_follows_web_access(tmp_path: Path) -> None:
    async with _app(tmp_path, web_access="keys") as app, _client(app) as browser:
        for body in ({}, {"user_id": "42", "user_hash": _sign("42")}):
            closed = await _session(browser, **body)
            assert (closed.status_code, _code(closed)) == (403, "embed_closed")
    passcode = {"web_access": "passcode", "web_passcode": SecretStr("open sesame")}
    async with _app(tmp_path, **passcode) as app, _client(app) as browser:
        anonymous = await _session(browser)
        assert (anonymous.status_code, _code(anonymous)) == (403, "signed_users_only")
        user = await _token(browser, user_id="42", user_hash=_sign("42"))
        assert (await browser.get("/api/config", headers=_as(user))).json()["admitted"] is True
        conversation = await _create(browser, user, "private")
        sent = await browser.post(
            f"/api/conversations/{conversation}/messages", json={"content": "hi"}, headers=_as(user)
        )
        assert sent.status_code == 200, sent.text
        # A browser without the passcode is still turned away.
        refused = await browser.get("/api/conversations")
        assert (refused.status_code, _code(refused)) == (401, "passcode_required")
