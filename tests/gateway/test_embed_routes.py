"""The chat widget's routes (docs/embed.md): its page may be framed only by an allowed site, per bot
(CSP frame-ancestors), every other response keeps ``frame-ancestors 'none'``; its config is readable
(CORS) by an allowed site only; its script is served."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from botport.app import create_app
from botport.emulator.bots import DEMO_BOT_ID, TOOL_BOT_ID
from botport.security_headers import CONTENT_SECURITY_POLICY
from botport.settings import BotConfig, Settings

BASE = "http://127.0.0.1:8400"
SHOP = "https://shop.example.com"
BLOG = "http://localhost:3000"
EVIL = "https://evil.example.net"


def _bots() -> list[BotConfig]:
    return [
        BotConfig(slug="support", bot_id=DEMO_BOT_ID, name="Support", greeting="Hi!", embed_origins=[SHOP]),
        BotConfig(slug="sales", bot_id=TOOL_BOT_ID, name="Sales", embed_origins=[BLOG, SHOP + ":8443"]),
    ]


@asynccontextmanager
async def _botport(tmp_path: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "secret_key": SecretStr("a-test-secret-key"),
        "bots": _bots(),
    }
    app = create_app(Settings(**(values | settings)))
    transport = httpx.ASGITransport(app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE) as client,
    ):
        yield client


def _frame_ancestors(response: httpx.Response) -> str:
    (policy,) = response.headers.get_list("content-security-policy")
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    return directives["frame-ancestors"]


def _code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def test_the_page_may_be_framed_by_the_allowed_site_that_asks_and_by_no_other(tmp_path: Path) -> None:
    async with _botport(tmp_path) as client:
        page = await client.get("/embed/support", params={"parent": SHOP})
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert 'src="/static/js/main.js"' in page.text  # the chat page itself
        assert _frame_ancestors(page) == SHOP
        # The rest of the policy is the page's usual one, but for its images: blob: URLs of the files it
        # fetched with its header (which an <img> cannot send).
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY.replace(
            "'none'; form", f"{SHOP}; form"
        ).replace("img-src 'self' data:;", "img-src 'self' data: blob:;")
        assert "blob:" not in (await client.get("/")).headers["content-security-policy"]
        # Per bot: sales allows two other sites, each framing only its own copy.
        for site in (BLOG, SHOP + ":8443"):
            framed = await client.get("/embed/sales", params={"parent": site})
            assert (framed.status_code, _frame_ancestors(framed)) == (200, site)
        # A site spelled another way is the same site (lower case, the default port, a trailing slash).
        same = await client.get("/embed/support", params={"parent": "HTTPS://Shop.Example.com:443/"})
        assert (same.status_code, _frame_ancestors(same)) == (200, SHOP)
        # A browser's revalidation (304) keeps the policy.
        again = await client.get(
            "/embed/support", params={"parent": SHOP}, headers={"If-None-Match": page.headers["etag"]}
        )
        assert (again.status_code, _frame_ancestors(again)) == (304, SHOP)


async def test_a_site_or_bot_not_allowed_gets_no_frame(tmp_path: Path) -> None:
    async with _botport(tmp_path) as client:
        cases = [
            ("/embed/support", {"parent": EVIL}, 403, "site_not_allowed"),
            ("/embed/support", {"parent": BLOG}, 403, "site_not_allowed"),  # sales' site, not support's
            ("/embed/sales", {"parent": SHOP}, 403, "site_not_allowed"),  # :443, not :8443
            ("/embed/support", {}, 400, "invalid_site"),
            ("/embed/support", {"parent": "*"}, 400, "invalid_site"),
            ("/embed/support", {"parent": "null"}, 400, "invalid_site"),
            ("/embed/support", {"parent": SHOP + "/shop"}, 400, "invalid_site"),
            ("/embed/nobody", {"parent": SHOP}, 404, "unknown_bot"),
        ]
        for path, params, status, code in cases:
            response = await client.get(path, params=params)
            assert (response.status_code, _code(response)) == (status, code), (path, params)
            assert _frame_ancestors(response) == "'none'"
            assert "main.js" not in response.text


async def test_a_bot_without_embed_origins_is_not_embeddable(tmp_path: Path) -> None:
    async with _botport(tmp_path, bots=[]) as client:  # demo mode's bots, BOTPORT_EMBED_ORIGINS unset
        page = await client.get("/embed/demo", params={"parent": SHOP})
        assert (page.status_code, _code(page), _frame_ancestors(page)) == (404, "not_embeddable", "'none'")
        config = await client.get("/embed/demo/config", headers={"Origin": SHOP})
        assert (config.status_code, _code(config)) == (404, "not_embeddable")
        session = await client.post("/embed/demo/session", json={"site": SHOP})
        assert (session.status_code, _code(session)) == (404, "not_embeddable")


async def test_demo_bots_are_embeddable_where_botport_embed_origins_says(tmp_path: Path) -> None:
    async with _botport(tmp_path, bots=[], embed_origins=f"{BLOG},{SHOP}") as client:
        for slug in ("demo", "weather"):
            page = await client.get(f"/embed/{slug}", params={"parent": BLOG})
            assert (page.status_code, _frame_ancestors(page)) == (200, BLOG)


async def test_every_other_response_still_refuses_every_frame(tmp_path: Path) -> None:
    async with _botport(tmp_path) as client:
        for path in ("/", "/c/abc", "/api/config", "/embed.js", "/static/js/main.js", "/healthz", "/docs"):
            response = await client.get(path, headers={"Origin": SHOP})
            assert _frame_ancestors(response) == "'none'", path


async def test_the_config_is_readable_by_an_allowed_site_only(tmp_path: Path) -> None:
    async with _botport(tmp_path, embed_secrets={SHOP: SecretStr("a-secret-of-the-shop-0123")}) as client:
        allowed = await client.get("/embed/support/config", headers={"Origin": SHOP})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == SHOP
        assert "Origin" in allowed.headers["vary"]
        assert "access-control-allow-credentials" not in allowed.headers
        assert allowed.json() == {
            "bot": "support",
            "name": "Support",
            "greeting": "Hi!",
            "signed_users_only": False,
            "identity": True,
        }
        sales = await client.get("/embed/sales/config", headers={"Origin": BLOG})
        assert sales.json()["identity"] is False  # no secret for that site

        # Refused: the body says why (the script logs it), but holds nothing of the bot's.
        refused = await client.get("/embed/support/config", headers={"Origin": EVIL})
        assert (refused.status_code, _code(refused)) == (403, "site_not_allowed")
        assert "Support" not in refused.text and "Hi!" not in refused.text
        assert refused.headers["access-control-allow-origin"] == EVIL
        # Without a readable Origin no page can read the answer at all.
        for headers in ({}, {"Origin": "null"}):
            blind = await client.get("/embed/support/config", headers=headers)
            assert (blind.status_code, _code(blind)) == (400, "invalid_site")
            assert "access-control-allow-origin" not in blind.headers
        unknown = await client.get("/embed/nobody/config", headers={"Origin": SHOP})
        assert (unknown.status_code, _code(unknown)) == (404, "unknown_bot")


async def test_the_config_follows_web_access(tmp_path: Path) -> None:
    async with _botport(tmp_path, web_access="keys") as client:
        closed = await client.get("/embed/support/config", headers={"Origin": SHOP})
        assert (closed.status_code, _code(closed)) == (403, "embed_closed")
    passcode = {"web_access": "passcode", "web_passcode": SecretStr("open sesame")}
    async with _botport(tmp_path, **passcode) as client:
        private = await client.get("/embed/support/config", headers={"Origin": SHOP})
        assert private.status_code == 200 and private.json()["signed_users_only"] is True


async def test_the_script_is_served_for_other_sites(tmp_path: Path) -> None:
    async with _botport(tmp_path) as client:
        script = await client.get("/embed.js", headers={"Accept-Encoding": "gzip"})
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert script.headers["x-content-type-options"] == "nosniff"
        assert "cross-origin-resource-policy" not in script.headers  # other sites may load it
        assert "document.currentScript" in script.text
        assert (await client.head("/embed.js")).status_code == 200
        # The widget's paths never hand out botport's identity cookie (a third-party frame drops it).
        for response in (script, await client.get("/embed/support", params={"parent": SHOP})):
            assert "set-cookie" not in response.headers
