"""The sidebar: new chat, list, rename and delete (with <dialog>s), bots and the demo banner."""

from __future__ import annotations

import re

import pytest
from browser_helpers import open_page, start_conversation
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.browser


def item(page: Page, index: int = 0):  # type: ignore[no-untyped-def]
    return page.locator(".conversation").nth(index)


def test_new_rename_and_delete(page: Page) -> None:
    expect(page.locator("#conversations-empty")).to_be_visible()
    first_url = start_conversation(page, "the first one")
    second_url = start_conversation(page, "the second one")
    assert first_url != second_url
    expect(page.locator(".conversation")).to_have_count(2)
    # Newest first, and the open one is marked.
    expect(item(page, 0)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(item(page, 0).locator(".conversation-link")).to_have_attribute("aria-current", "page")

    # Rename: cancel first (nothing changes), then save.
    before = item(page, 0).locator(".conversation-title").inner_text()
    item(page, 0).locator(".rename-button").click()
    dialog = page.locator("#rename-dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(item(page, 0).locator(".conversation-title")).to_have_text(before)
    item(page, 0).locator(".rename-button").click()
    page.locator("#rename-input").fill("Renamed chat")
    page.locator("#rename-input").press("Enter")
    expect(dialog).to_be_hidden()
    expect(item(page, 0).locator(".conversation-title")).to_have_text("Renamed chat")
    expect(page.locator("#conversation-title")).to_have_text("Renamed chat")
    open_page(page, page.url)
    expect(page.locator(".conversation.current .conversation-title")).to_have_text("Renamed chat")

    # Delete: cancelling keeps it; confirming removes it and opens a new chat.
    item(page, 0).locator(".delete-button").click()
    confirm = page.locator("#delete-dialog")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("Renamed chat")
    confirm.get_by_role("button", name="Cancel").click()
    expect(page.locator(".conversation")).to_have_count(2)
    item(page, 0).locator(".delete-button").click()
    confirm.get_by_role("button", name="Delete").click()
    expect(page.locator(".conversation")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/$"))
    open_page(page, "/")
    expect(page.locator(".conversation")).to_have_count(1)
    assert page.request.get(second_url.replace("/c/", "/api/conversations/")).status == 404

    # The remaining one opens from the sidebar.
    item(page, 0).locator(".conversation-link").click()
    expect(page).to_have_url(first_url)
    expect(page.locator(".message.user .user-text")).to_have_text(["the first one"])


def test_the_keyboard_focus_stays_put_when_the_list_is_drawn_again(page: Page) -> None:
    """Another tab renames a conversation: this tab's list is drawn again, and the control a keyboard
    user was on keeps the focus (Enter then does what it did)."""
    start_conversation(page, "kept in focus")
    start_conversation(page, "renamed elsewhere")
    other = page.context.new_page()
    open_page(other, "/")
    focused = item(page, 1).locator(".rename-button")
    focused.focus()
    expect(focused).to_be_focused()
    other.locator(".conversation").nth(0).hover()
    other.locator(".conversation").nth(0).locator(".rename-button").click()
    other.locator("#rename-input").fill("Renamed in another tab")
    other.locator("#rename-input").press("Enter")
    expect(item(page, 0).locator(".conversation-title")).to_have_text("Renamed in another tab")
    expect(item(page, 1).locator(".rename-button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#rename-dialog")).to_be_visible()
    expect(page.locator("#rename-input")).to_have_value(re.compile("kept in focus", re.IGNORECASE))
    other.close()


def test_a_failed_rename_or_delete_is_said_and_changes_nothing(page: Page) -> None:
    start_conversation(page, "keep me")
    title = item(page, 0).locator(".conversation-title").inner_text()

    def refuse(route: Route) -> None:
        body = '{"error": {"code": "internal_error", "message": "the database is locked"}}'
        route.fulfill(status=500, content_type="application/json", body=body)

    page.route(re.compile(r"/api/conversations/[0-9a-f]+$"), refuse)
    item(page, 0).locator(".rename-button").click()
    page.locator("#rename-input").fill("New name")
    page.locator("#rename-input").press("Enter")
    toast = page.locator("#toast")
    expect(toast).to_be_visible()
    # Why, as a sentence in the page's language (js/failures.js), not the server's raw words.
    expect(toast).to_have_text("Could not rename the conversation: the server hit an internal error.")
    expect(item(page, 0).locator(".conversation-title")).to_have_text(title)

    item(page, 0).locator(".delete-button").click()
    page.locator("#delete-dialog").get_by_role("button", name="Delete").click()
    expect(toast).to_contain_text("Could not delete")
    expect(page.locator(".conversation")).to_have_count(1)


def test_demo_banner_and_bot_picker(page: Page) -> None:
    expect(page.locator("#demo-banner")).to_be_visible()
    picker = page.locator("#bot-select")
    expect(picker).to_be_visible()
    options = picker.locator("option")
    assert options.count() >= 2
    # The empty state shows the chosen bot's name, description and greeting.
    second = options.nth(1)
    picker.select_option(second.get_attribute("value"))
    expect(page.locator("#empty-name")).to_have_text(second.inner_text())
    expect(page.locator("#empty-greeting")).not_to_be_empty()
    picker.select_option(options.nth(0).get_attribute("value"))
    expect(page.locator("#empty-name")).to_have_text(options.nth(0).inner_text())
