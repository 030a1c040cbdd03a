"""Bots, drafts and tabs: changing the bot inside a conversation asks first; each conversation keeps its
own unsent draft (across switches and reloads, bounded); other tabs see new conversations, titles,
answers, renames and deletions without a reload, and nothing echoes between them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser_helpers import ask, last_answer, open_page, to_stop
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser

# Counts what each tab posts on the BroadcastChannel (so a test can see that nothing echoes).
COUNT_POSTS = """
    window.posted = [];
    const post = BroadcastChannel.prototype.postMessage;
    BroadcastChannel.prototype.postMessage = function (message) {
        window.posted.push(message.kind);
        return post.call(this, message);
    };
"""


def box(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#composer-input")


def start_conversation(page: Page, question: str) -> str:
    page.locator("#new-chat").click()
    ask(page, question)
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    return page.url


def open_from_sidebar(page: Page, title: str, url: str) -> None:
    page.locator(".conversation-link", has_text=title).click()
    expect(page).to_have_url(url)
    expect(page.locator(".message.user .user-text").first).to_have_text(title)


def test_each_conversation_keeps_its_own_draft(page: Page) -> None:
    first = start_conversation(page, "first talk")
    second = start_conversation(page, "second talk")
    box(page).fill("half a thought for the second")

    open_from_sidebar(page, "first talk", first)
    expect(box(page)).to_have_value("")  # the draft did not follow
    box(page).fill("and one for the first")
    page.locator("#new-chat").click()
    expect(box(page)).to_have_value("")
    box(page).fill("a new chat's draft")

    open_from_sidebar(page, "second talk", second)
    expect(box(page)).to_have_value("half a thought for the second")
    expect(page.locator("#send-button")).to_be_enabled()
    open_page(page, page.url)  # a reload keeps it
    expect(box(page)).to_have_value("half a thought for the second")
    page.go_back()  # back and forth in the history: each place shows its own
    expect(page).to_have_url(re.compile(r"/$"))
    expect(box(page)).to_have_value("a new chat's draft")
    page.go_back()
    expect(page).to_have_url(first)
    expect(box(page)).to_have_value("and one for the first")

    # Sending ends a draft: it is not there after a reload.
    open_from_sidebar(page, "first talk", first)
    box(page).press("Enter")
    expect(page.locator(".message.user .user-text")).to_have_text(["first talk", "and one for the first"])
    expect(box(page)).to_have_value("")
    open_page(page, first)
    expect(box(page)).to_have_value("")
    # Sending from a new chat ends the new chat's draft too.
    page.locator("#new-chat").click()
    box(page).press("Enter")
    expect(page.locator(".message.user .user-text")).to_have_text(["a new chat's draft"])
    page.locator("#new-chat").click()
    expect(box(page)).to_have_value("")


def test_drafts_are_bounded_newest_kept(page: Page) -> None:
    page.evaluate(
        """() => { for (let i = 0; i < 60; i += 1) localStorage.setItem(`botport.draft:c:old${i}`,
            JSON.stringify({ text: `old ${i}`, at: 1000 + i })); }"""
    )
    box(page).fill("the newest")
    drafts = page.evaluate(
        "() => Object.keys(localStorage).filter((key) => key.startsWith('botport.draft:')).sort()"
    )
    assert len(drafts) == 50, drafts
    assert "botport.draft:new" in drafts
    assert "botport.draft:c:old59" in drafts and "botport.draft:c:old10" not in drafts
    open_page(page, "/")
    expect(box(page)).to_have_value("the newest")


def test_changing_the_bot_inside_a_conversation_asks_first(page: Page) -> None:
    url = start_conversation(page, "a talk with the demo bot")
    dialog = page.locator("#switch-bot-dialog")

    page.select_option("#bot-select", "slow")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Start a new conversation with Slow demo?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")  # cancel: nothing changes, the picker shows the conversation's bot
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(url)
    expect(page.locator("#bot-select")).to_have_value("demo")
    expect(page.locator(".message.assistant")).to_have_count(1)

    page.select_option("#bot-select", "failing")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("#bot-select")).to_have_value("demo")
    expect(page).to_have_url(url)

    page.select_option("#bot-select", "slow")
    dialog.get_by_role("button", name="New conversation").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#empty-name")).to_have_text("Slow demo")
    expect(page.locator("#bot-select")).to_have_value("slow")

    # In a new chat there is nothing to lose: the bot just changes.
    page.select_option("#bot-select", "weather")
    expect(dialog).to_be_hidden()
    expect(page.locator("#empty-name")).to_have_text("Weather tool demo")
    # The old conversation keeps its bot.
    open_from_sidebar(page, "a talk with the demo bot", url)
    expect(page.locator("#bot-select")).to_have_value("demo")


@pytest.fixture
def tabs(context: BrowserContext) -> Iterator[tuple[Page, Page]]:
    """Two tabs of one browser (one identity) that count what they post; no script error in either."""
    context.add_init_script(COUNT_POSTS)
    pages = [context.new_page(), context.new_page()]
    errors: list[str] = []
    for tab in pages:
        tab.on("pageerror", lambda error: errors.append(str(error)))
        open_page(tab, "/")
    yield pages[0], pages[1]
    assert errors == [], f"errors in the tabs: {errors}"


def test_other_tabs_follow_without_a_reload(tabs: tuple[Page, Page]) -> None:
    here, there = tabs
    ask(here, "said in the first tab")
    expect(last_answer(here)).to_have_attribute("data-status", "completed")
    url = here.url
    # The other tab lists the new conversation, with its title, by itself.
    link = there.locator(".conversation-link")
    expect(link).to_have_count(1)
    expect(link.locator(".conversation-title")).to_have_text("said in the first tab")
    link.click()
    expect(there.locator(".message.assistant")).to_have_count(1)

    # It shows the answers asked in the first tab while it looks at that conversation.
    ask(here, to_stop("a second question"))
    questions = ["said in the first tab", to_stop("a second question")]
    expect(there.locator(".message.user .user-text")).to_have_text(questions)
    expect(last_answer(there)).to_have_attribute("data-status", "streaming")
    expect(there.locator("#stop-button")).to_be_visible()
    expect(last_answer(there).locator(".bubble")).to_contain_text("a second question")  # while it streams
    # Stopped in the first tab (rather than waited for: /slow takes ~15 s): the other tab sees it end.
    here.locator("#stop-button").click()
    expect(last_answer(there)).to_have_attribute("data-status", "interrupted")
    expect(there.locator("#send-button")).to_be_visible()

    # A rename in the first tab reaches the other tab's list and heading.
    row = here.locator(".conversation").first
    row.hover()
    row.locator(".rename-button").click()
    here.locator("#rename-input").fill("Renamed elsewhere")
    here.locator("#rename-input").press("Enter")
    expect(there.locator(".conversation-title")).to_have_text(["Renamed elsewhere"])
    expect(there.locator("#conversation-title")).to_have_text("Renamed elsewhere")

    # Only the tab that acted told; the one that listened never told back.
    told = ["created", "turn-started", "turn-ended", "turn-started", "turn-ended", "renamed"]
    assert here.evaluate("window.posted") == told
    assert there.evaluate("window.posted") == []

    # Deleting it in the first tab takes it off the other tab, which leaves it for a new chat.
    row.hover()
    row.locator(".delete-button").click()
    here.locator("#delete-dialog").get_by_role("button", name="Delete").click()
    expect(there.locator(".conversation")).to_have_count(0)
    expect(there).to_have_url(re.compile(r"/$"))
    expect(there.locator("#empty-state")).to_be_visible()
    assert here.request.get(url.replace("/c/", "/api/conversations/")).status == 404
    assert there.evaluate("window.posted") == []
