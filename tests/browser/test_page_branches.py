"""Edit, regenerate, branch: a question edited in place starts a new branch, an answer regenerated keeps
its question once, ‹ › switches between the versions (and the server remembers which one is read), and
the copy buttons on code blocks and on the reader's own messages copy the right text."""

from __future__ import annotations

import re

import pytest
from browser_helpers import ask, last_answer, open_page
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser


def _questions(page: Page) -> list[str]:
    return [text.strip() for text in page.locator(".message.user .user-text").all_inner_texts()]


def _answered(page: Page, count: int) -> None:
    """The thread shows `count` answers and the last one has ended."""
    expect(page.locator(".message.assistant")).to_have_count(count)
    expect(last_answer(page)).to_have_attribute("data-status", re.compile("completed|failed"))
    expect(page.locator("#send-button")).to_be_visible()


def test_edit_starts_a_branch_and_the_arrows_switch_between_them(page: Page) -> None:
    ask(page, "otters")
    _answered(page, 1)
    ask(page, "badgers")
    _answered(page, 2)
    second = page.locator(".message.user").nth(1)
    second.hover()
    second.locator(".edit-button").click()
    box = second.locator(".edit-box")
    expect(box).to_be_focused()
    expect(box).to_have_value("badgers")
    box.fill("ferrets")
    box.press("Enter")

    expect(page.locator(".message.user .user-text")).to_have_text(["otters", "ferrets"])
    _answered(page, 2)
    expect(last_answer(page)).to_contain_text("Before that you asked: otters")  # the branch's own history
    edited = page.locator(".message.user").nth(1)
    expect(edited.locator(".versions")).to_have_attribute("aria-label", "Version 2 of 2")
    expect(edited.locator(".version-label")).to_have_text("2/2")
    expect(page.locator(".message.assistant")).to_have_count(2)

    edited.locator(".version-prev").click()
    expect(page.locator(".message.user .user-text")).to_have_text(["otters", "badgers"])
    expect(page.locator(".message.user").nth(1).locator(".version-label")).to_have_text("1/2")
    expect(page.locator(".message.user").nth(1).locator(".version-next")).to_be_focused()
    expect(last_answer(page)).to_contain_text("You said")

    # The server keeps the branch being read: a reload shows it, and the next question continues it.
    open_page(page, page.url)
    expect(page.locator(".message.user .user-text")).to_have_text(["otters", "badgers"])
    ask(page, "and then?")
    _answered(page, 3)
    expect(last_answer(page)).to_contain_text("Before that you asked: badgers")

    page.locator(".message.user").nth(1).locator(".version-next").click()
    expect(page.locator(".message.user .user-text")).to_have_text(["otters", "ferrets"])


def test_escape_cancels_an_edit(page: Page) -> None:
    ask(page, "keep me")
    _answered(page, 1)
    question = page.locator(".message.user").first
    question.hover()
    question.locator(".edit-button").click()
    question.locator(".edit-box").fill("changed my mind")
    question.locator(".edit-box").press("Escape")
    expect(question.locator(".edit-form")).to_have_count(0)
    expect(question.locator(".user-text")).to_have_text("keep me")
    expect(question.locator(".edit-button")).to_be_focused()
    expect(page.locator(".message.assistant")).to_have_count(1)


def test_regenerate_answers_again_without_repeating_the_question(page: Page) -> None:
    ask(page, "otters")
    _answered(page, 1)
    first_answer = last_answer(page).get_attribute("data-id")
    last_answer(page).locator(".regenerate-button").click()
    expect(last_answer(page).locator(".version-label")).to_have_text("2/2")
    _answered(page, 1)
    expect(page.locator(".message.user .user-text")).to_have_text(["otters"])
    expect(page.locator(".message.assistant")).to_have_count(1)
    answer = last_answer(page)
    expect(answer.locator(".version-label")).to_have_text("2/2")
    assert answer.get_attribute("data-id") != first_answer
    answer.locator(".version-prev").click()
    expect(last_answer(page)).to_have_attribute("data-id", first_answer or "")
    expect(last_answer(page).locator(".version-label")).to_have_text("1/2")


def test_retry_on_a_failed_answer_regenerates_it_in_place(page: Page) -> None:
    ask(page, "/fail please")
    failed = last_answer(page)
    expect(failed).to_have_attribute("data-status", "failed")
    failed.locator(".retry-button").click()
    expect(page.locator(".message.user .user-text")).to_have_text(["/fail please"])  # not asked twice
    expect(last_answer(page).locator(".version-label")).to_have_text("2/2")
    expect(page.locator(".message.assistant")).to_have_count(1)


def test_copy_buttons_copy_code_and_own_messages(page: Page, context: BrowserContext) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    ask(page, "/long show me code")
    _answered(page, 1)
    block = last_answer(page).locator(".code-block").first
    expect(block.locator(".code-copy")).to_have_attribute("aria-label", "Copy code")
    block.locator(".code-copy").click()
    code = block.locator("pre").inner_text()
    assert page.evaluate("navigator.clipboard.readText()") == code
    expect(block.locator(".code-copy")).to_have_attribute("title", "Copied")

    question = page.locator(".message.user").first
    question.hover()
    question.locator(".copy-button").click()
    assert page.evaluate("navigator.clipboard.readText()") == "/long show me code"
