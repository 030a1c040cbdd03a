"""Browser tests: a real ``botport serve`` in demo mode driven by headless Chromium, both started once
per session (so once per pytest-xdist worker: a few seconds each).

Each test gets a fresh browser context, so a fresh cookie, so a fresh identity with no conversations.
``BOTPORT_BROWSER_BASE_URL`` points the tests at an already running server instead (for debugging).
Without /usr/bin/chromium the tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from browser_helpers import (
    CHROMIUM,
    DEFAULT_TIMEOUT_MS,
    RequestLog,
    launch_chromium,
    new_context,
    ready_page,
    running_botport,
)
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

expect.set_options(timeout=DEFAULT_TIMEOUT_MS)


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("BOTPORT_BROWSER_BASE_URL")
    if given:
        yield given.rstrip("/")
        return
    # Every test's browser comes from 127.0.0.1: the limits per address would count them as one
    # visitor (each test still has its own identity, with the default limits per browser).
    per_address_off = {"address_turns_per_minute": "0", "address_requests_per_minute": "0"}
    with running_botport(tmp_path_factory.mktemp("botport-data"), **per_address_off) as url:
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


@pytest.fixture
def requests_seen() -> RequestLog:
    return RequestLog()


@pytest.fixture
def context(browser: Browser, base_url: str, requests_seen: RequestLog) -> Iterator[BrowserContext]:
    ctx = new_context(browser, base_url)
    ctx.on("request", requests_seen.record)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """The chat page, loaded and ready (config, bots and conversations fetched); no script error."""
    with ready_page(context) as page:
        yield page
