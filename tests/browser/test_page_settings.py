"""Language and theme (switchable, remembered), keyboard use and the phone layout."""

from __future__ import annotations

import pytest
from browser_helpers import new_context, open_page
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


def test_language_switches_and_is_remembered(page: Page) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#new-chat")).to_contain_text("New chat")
    page.locator("#lang-toggle").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#new-chat")).to_contain_text("新对话")
    expect(page.locator("#composer-input")).to_have_attribute("placeholder", "给机器人发消息…")
    open_page(page, "/")
    expect(page.locator("#new-chat")).to_contain_text("新对话")
    page.locator("#lang-toggle").click()
    expect(page.locator("#new-chat")).to_contain_text("New chat")


def test_chinese_browser_gets_chinese(browser: Browser, base_url: str) -> None:
    context = new_context(browser, base_url, locale="zh-CN")
    try:
        page = context.new_page()
        open_page(page, "/")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.locator(".composer-hint")).to_have_text("Enter 发送，Shift+Enter 换行")
    finally:
        context.close()


def test_theme_follows_the_system_then_the_user(browser: Browser, base_url: str) -> None:
    context = new_context(browser, base_url, color_scheme="dark")
    try:
        page = context.new_page()
        open_page(page, "/")
        html = page.locator("html")
        expect(html).to_have_attribute("data-theme", "dark")
        background_dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.locator("#theme-toggle").click()
        expect(html).to_have_attribute("data-theme", "light")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") != background_dark
        open_page(page, "/")
        expect(html).to_have_attribute("data-theme", "light")  # remembered over the system's dark
    finally:
        context.close()


def test_keyboard_alone(page: Page) -> None:
    # The first Tab reaches the skip link, which jumps to the message box.
    page.locator("body").focus()
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#composer-input")).to_be_focused()
    page.keyboard.type("typed with the keyboard")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(page.locator("#composer-input")).to_have_value("typed with the keyboard\nsecond line")
    page.keyboard.press("Enter")
    expect(page.locator(".message.assistant").last).to_have_attribute("data-status", "completed")
    # A dialog opened from the keyboard closes with Escape and gives focus back.
    page.locator(".conversation .rename-button").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#rename-dialog")).to_be_visible()
    expect(page.locator("#rename-input")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#rename-dialog")).to_be_hidden()


@pytest.mark.parametrize("width", [360, 390])
def test_phone_layout(browser: Browser, base_url: str, width: int) -> None:
    context = new_context(browser, base_url, viewport={"width": width, "height": 800}, has_touch=True)
    try:
        page = context.new_page()
        open_page(page, "/")
        sidebar = page.locator("#sidebar")
        expect(sidebar).to_be_hidden()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.locator("#sidebar-toggle").click()
        expect(sidebar).to_be_visible()
        expect(page.locator("#sidebar-toggle")).to_have_attribute("aria-expanded", "true")
        page.keyboard.press("Escape")
        expect(sidebar).to_be_hidden()
        box = page.locator("#composer-input")
        box.fill("a question from a phone")
        page.locator("#send-button").click()
        expect(page.locator(".message.assistant").last).to_have_attribute("data-status", "completed")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()
