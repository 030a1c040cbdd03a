"""Accessibility (WCAG 2.2 AA) measured with axe-core over the page's main states, light and dark:
no serious or critical violation anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from axe_helpers import assert_no_serious_violations, needs_axe
from browser_helpers import ask, last_answer, open_page, own_page, to_stop
from playwright.sync_api import Browser, Page, expect

from image_files import png

pytestmark = [pytest.mark.browser, needs_axe]

SCHEMES = ["light", "dark"]
PHONE = {"width": 390, "height": 844}


@contextmanager
def chat_page(browser: Browser, base_url: str, scheme: str, **options: Any) -> Iterator[Page]:
    """The chat page in `scheme`, motion reduced (so no colour is measured mid-fade); no script error."""
    with own_page(browser, base_url, color_scheme=scheme, reduced_motion="reduce", **options) as page:
        expect(page.locator("html")).to_have_attribute("data-theme", scheme)
        yield page


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
        ask(page, to_stop("think aloud"))
        answer = last_answer(page)
        expect(answer.locator(".markdown")).not_to_be_empty()  # rendered while it streams
        expect(answer).to_have_attribute("data-status", "streaming")
        assert_no_serious_violations(page)
        page.locator("#stop-button").click()
        expect(answer).to_have_attribute("data-status", "interrupted")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_switch_bot_dialog_has_no_serious_violation(browser: Browser, base_url: str, scheme: str) -> None:
    with chat_page(browser, base_url, scheme) as page:
        ask(page, "a question before another bot")
        expect(last_answer(page)).to_have_attribute("data-status", "completed")
        page.select_option("#bot-select", "slow")
        expect(page.locator("#switch-bot-dialog")).to_be_visible()
        assert_no_serious_violations(page)
        page.keyboard.press("Escape")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_tool_notice_and_load_failure_have_no_serious_violation(
    browser: Browser, base_url: str, scheme: str
) -> None:
    with chat_page(browser, base_url, scheme) as page:
        page.select_option("#bot-select", "weather")
        ask(page, "What is the weather in Oslo?")
        expect(last_answer(page).locator(".notice")).to_be_visible()
        assert_no_serious_violations(page)
        page.locator("#new-chat").click()
        page.route("**/api/conversations/*", lambda route: route.abort("connectionreset"))
        page.locator(".conversation-link").first.click()
        expect(page.locator(".load-failed .retry-button")).to_be_visible()
        assert_no_serious_violations(page)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_versions_and_the_editor_have_no_serious_violation(
    browser: Browser, base_url: str, scheme: str
) -> None:
    with chat_page(browser, base_url, scheme) as page:
        ask(page, "a question to answer twice")
        expect(last_answer(page)).to_have_attribute("data-status", "completed")
        last_answer(page).locator(".regenerate-button").click()
        expect(last_answer(page).locator(".version-label")).to_have_text("2/2")
        question = page.locator(".message.user").first
        question.hover()
        question.locator(".edit-button").click()
        expect(question.locator(".edit-box")).to_be_focused()
        assert_no_serious_violations(page)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_search_results_groups_and_row_menu_have_no_serious_violation(
    browser: Browser, base_url: str, scheme: str
) -> None:
    with chat_page(browser, base_url, scheme) as page:
        ask(page, "a question about zebras")
        expect(last_answer(page)).to_have_attribute("data-status", "completed")
        kept = {"title": "kept", "bot": "demo"}
        body = {"format": "botport.conversation", "version": 1, "conversation": kept, "messages": []}
        pinned = page.request.post("/api/import", data=body).json()["id"]
        page.request.patch(f"/api/conversations/{pinned}", data={"pinned": True})
        open_page(page, "/")
        expect(page.locator(".conversation-group-title")).to_have_text(["Pinned", "Today"])
        row = page.locator(".conversation").last
        row.hover()
        row.locator(".more-button").click()
        expect(page.get_by_role("menuitem")).to_have_count(3)
        assert_no_serious_violations(page)
        page.keyboard.press("Escape")
        page.locator("#conversation-search").fill("zebras")
        expect(page.locator(".search-result mark").first).to_be_visible()
        assert_no_serious_violations(page)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_attachments_in_the_composer_and_the_thread_have_no_serious_violation(
    browser: Browser, base_url: str, scheme: str
) -> None:
    with chat_page(browser, base_url, scheme) as page:
        page.set_input_files(
            "#attach-input",
            [
                {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"some notes"},
                {"name": "dot.png", "mimeType": "image/png", "buffer": png(40, 30)},
            ],
        )
        expect(page.locator("#attachment-tray .attachment[data-status='done']")).to_have_count(2)
        ask(page, "two files")
        expect(last_answer(page)).to_have_attribute("data-status", "completed")
        expect(page.locator(".message.user a.file-chip")).to_be_visible()
        # The tray again: an image ready (its preview), and a file that failed, saying why.
        page.set_input_files(
            "#attach-input",
            [
                {"name": "again.png", "mimeType": "image/png", "buffer": png(40, 30)},
                {"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"},
            ],
        )
        expect(page.locator("#attachment-tray .attachment-thumb")).to_be_visible()
        expect(page.locator("#attachment-tray .attachment[data-status='failed']")).to_be_visible()
        page.locator("#composer-input").press("Enter")
        expect(page.locator("#attachment-status")).to_be_visible()
        assert_no_serious_violations(page)
