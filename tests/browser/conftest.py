"""Browser tests: a real ``botport serve`` in demo mode (one per session) driven by headless Chromium.

Each test gets a fresh browser context, so a fresh cookie, so a fresh identity with no conversations.
``BOTPORT_BROWSER_BASE_URL`` points the tests at an already running server instead (for debugging).
Without /usr/bin/chromium the tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_helpers import CHROMIUM, launch_chromium, running_botport
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Request, expect, sync_playwright

DEFAULT_TIMEOUT_MS = 20_000
expect.set_options(timeout=DEFAULT_TIMEOUT_MS)


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("BOTPORT_BROWSER_BASE_URL")
    if given:
        yield given.rstrip("/")
        return
    with running_botport(tmp_path_factory.mktemp("botport-data")) as url:
        yield url


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = launch_chromium(playwright)
    yield chromium
    chromium.close()


class RequestLog:
    """Every URL the page asked for (to prove it never contacts another origin)."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def record(self, request: Request) -> None:
        self.urls.append(request.url)

    def foreign(self, base_url: str) -> list[str]:
        own = urlsplit(base_url).netloc
        return [url for url in self.urls if not url.startswith("data:") and urlsplit(url).netloc != own]


@pytest.fixture
def requests_seen() -> RequestLog:
    return RequestLog()


def new_context(browser: Browser, base_url: str, **options: Any) -> BrowserContext:
    options.setdefault("viewport", {"width": 1280, "height": 800})
    options.setdefault("locale", "en-US")
    context = browser.new_context(base_url=base_url, **options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context


@pytest.fixture
def context(browser: Browser, base_url: str, requests_seen: RequestLog) -> Iterator[BrowserContext]:
    ctx = new_context(browser, base_url)
    ctx.on("request", requests_seen.record)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """The chat page, loaded and ready (config, bots and conversations fetched); no script error."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_page(page, "/")
    yield page
    assert errors == [], f"errors in the page: {errors}"


def open_page(page: Page, path: str) -> None:
    page.goto(path)
    page.wait_for_selector("html[data-ready='true']")


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "docs" / "screenshots"
