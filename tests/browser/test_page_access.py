"""In Chromium: the web chat's access setting (passcode, keys only) and its limits, as a visitor meets
them: the passcode dialog, the closed notice, and the "too many" message when a limit is reached."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_helpers import new_context, open_page, running_botport
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


def _send(page: Page, text: str) -> None:
    page.locator("#composer-input").fill(text)
    page.locator("#composer-input").press("Enter")


def test_a_private_chat_asks_for_its_passcode_once(browser: Browser, tmp_path: Path) -> None:
    with running_botport(tmp_path, web_access="passcode", web_passcode="open sesame") as url:
        context = new_context(browser, url)
        page = context.new_page()
        open_page(page, "/")
        dialog = page.locator("#passcode-dialog")
        expect(dialog).to_be_visible()
        page.keyboard.press("Escape")  # there is no way around it
        expect(dialog).to_be_visible()

        page.locator("#passcode-input").fill("open sesame?")
        page.locator("#passcode-input").press("Enter")
        expect(page.locator("#passcode-error")).to_have_text("That is not the passcode.")

        page.locator("#passcode-input").fill("open sesame")
        with page.expect_navigation():
            page.locator("#passcode-input").press("Enter")
        page.wait_for_selector("html[data-ready='true']")
        expect(dialog).to_be_hidden()
        _send(page, "hello")
        expect(page.locator(".message.assistant").last).to_have_attribute("data-status", "completed")

        open_page(page, "/")  # the pass is kept: no dialog the next time
        expect(page.locator(".conversation")).to_have_count(1)
        expect(dialog).to_be_hidden()
        context.close()


def test_a_keys_only_server_says_its_chat_is_closed(browser: Browser, tmp_path: Path) -> None:
    with running_botport(tmp_path, web_access="keys") as url:
        context = new_context(browser, url)
        page = context.new_page()
        open_page(page, "/")
        expect(page.locator(".notice")).to_contain_text("web chat is closed")
        expect(page.locator("#composer")).to_be_hidden()
        context.close()


def test_the_page_says_when_a_limit_is_reached(browser: Browser, tmp_path: Path) -> None:
    with running_botport(tmp_path, turns_per_minute="1") as url:
        context = new_context(browser, url)
        page = context.new_page()
        open_page(page, "/")
        _send(page, "one")
        expect(page.locator(".message.assistant").last).to_have_attribute("data-status", "completed")
        _send(page, "two")
        expect(page.locator(".message.assistant").last).to_contain_text("too many messages")
        expect(page.locator(".message.assistant").last).to_contain_text("try again in")
        context.close()
