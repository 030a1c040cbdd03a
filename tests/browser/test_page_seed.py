"""The tutorial's original page still works against botport's ``POST /chat``, with its CDNs blocked."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Route, expect

pytestmark = pytest.mark.browser

# The tutorial lives in the workspace's shared/ folder, beside this repository.
SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "seed-original.md"
IN_CI = os.environ.get("CI") == "true"


def seed_page_html() -> str:
    """The first fenced block of the tutorial: its whole index.html."""
    match = re.search(r"```[a-z]*\n(<!DOCTYPE html>.*?</html>)\n```", SEED.read_text(encoding="utf-8"), re.S)
    assert match, "no HTML block in the tutorial"
    return match.group(1)


@pytest.mark.skipif(not SEED.exists() and not IN_CI, reason="../shared/seed is not beside this clone")
def test_seed_page_chats_through_botport(context: BrowserContext, base_url: str) -> None:
    page = context.new_page()
    blocked: list[str] = []

    def route(route: Route) -> None:
        url = route.request.url
        if url == f"{base_url}/seed.html":
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=seed_page_html())
        elif url.startswith(base_url):
            route.continue_()
        else:  # Tailwind and Font Awesome from CDNs: no network here
            blocked.append(url)
            route.abort()

    page.route("**/*", route)
    page.goto(f"{base_url}/seed.html")
    page.locator("#user-input").fill("Hello from the tutorial page")
    page.locator("#send-button").click()
    reply = page.locator("#chat-responses p").first
    expect(reply).to_contain_text("Hello from the tutorial page")
    assert not reply.inner_text().startswith("错误")
    assert any("tailwindcss" in url for url in blocked)
