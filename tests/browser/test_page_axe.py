"""Accessibility (WCAG 2.2 AA) measured with axe-core over the page's main states, light and dark:
no serious or critical violation anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from axe_helpers import assert_no_serious_violations, needs_axe
from browser_helpers import ask, last_answer, new_context, open_page
from playwright.sync_api import Browser, Page, expect

pytestmark = [pytest.mark.browser, needs_axe]

SCHEMES = ["light", "dark"]
PHONE = {"width": 390, "height": 844}


@contextmanager
def chat_page(browser: Browser, base_url: str, scheme: str, **options: Any) -> Iterator[Page]:
    """The chat page in `scheme`, motion reduced (so no colour is measured mid-fade); no script error."""
    context = new_context(browser, base_url, color_scheme=scheme, reduced_motion="reduce", **options)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        open_page(page, "/")
        expect(page.locator("html")).to_have_attribute("data-theme", scheme)
        yield page
        assert errors == [], f"errors in the page: {errors}"
    finally:
        context.close()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_new_chat_has_no_serious_violation(browser: Browser, base_url: str, scheme: str) -> None:
    with chat_page(browser, base_url, scheme) as page:
        expect(page.locator("#empty-state")).to_be_visible()
        assert_no_serious_violations(page)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_answer_with_code_has_no_serious_violation(browser: Browser, base_url: str, scheme: str) -> None:
    with chat_page(browser, base_url, scheme) as page:
        ask(page, "/long show me some code")
        answer = last_answer(page)
        expect(answer).to_have_attribute("data-status", "completed")
        expect(answer.locator(".markdown pre").first).to_be_visible()
        assert_no_serious_violations(page)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_error_answer_has_no_serious_violation(browser: Browser, base_url: str, scheme: str) -> None:
    with chat_page(browser, base_url, scheme) as page:
        ask(page, "/fail please")
        expect(last_answer(page)).to_have_attribute("data-status", "failed")
        expect(last_answer(page).locator(".message-error .logid")).to_be_visible()
        assert_no_serious_violations(page)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_phone_drawer_has_no_serious_violation(browser: Browser, base_url: str, scheme: str) -> None:
    with chat_page(browser, base_url, scheme, viewport=PHONE, has_touch=True) as page:
        ask(page, "a first question")
        expect(last_answer(page)).to_have_attribute("data-status", "completed")
        page.locator("#sidebar-toggle").click()
        expect(page.locator("#sidebar")).to_be_in_viewport()
        expect(page.locator(".conversation-link")).to_have_count(1)
        assert_no_serious_violations(page)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_rename_dialog_has_no_serious_violation(browser: Browser, base_url: str, scheme: str) -> None:
    with chat_page(browser, base_url, scheme) as page:
        ask(page, "a question to rename")
        expect(last_answer(page)).to_have_attribute("data-status", "completed")
        row = page.locator(".conversation").first
        row.hover()
        row.locator(".rename-button").click()
        expect(page.locator("#rename-dialog")).to_be_visible()
        assert_no_serious_violations(page)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_streaming_answer_has_no_serious_violation(browser: Browser, base_url: str, scheme: str) -> None:
    with chat_page(browser, base_url, scheme) as page:
        ask(page, "/slow think aloud")
        answer = last_answer(page)
        expect(answer.locator(".markdown")).not_to_be_empty()  # rendered while it streams
        expect(answer).to_have_attribute("data-status", "streaming")
        assert_no_serious_violations(page)
        page.locator("#stop-button").click()
        expect(answer).to_have_attribute("data-status", "interrupted")
