"""A turn outlives the page's request: reload, switch away and back, two tabs, two conversations at
once, a dropped network and a 409 from another tab all end with the whole answer, shown once.

``/slow`` questions stream word by word for about 15 s in demo mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import ask, last_answer, new_context, open_page, to_stop
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, expect

from net_faults import CuttableProxy

pytestmark = pytest.mark.browser

SLOW_MS = 60_000  # a /slow answer takes about 15 s; leave room for a loaded machine
LAST_WORDS = "at the start of a question."  # how every demo answer ends


def conversation_id(page: Page) -> str:
    return page.url.rsplit("/c/", 1)[1]


def stored_messages(page: Page, conversation: str) -> list[dict[str, Any]]:
    response = page.request.get(f"/api/conversations/{conversation}/messages")
    assert response.ok, response.status
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def expect_streaming(answer: Locator) -> None:
    """The answer is running and its text so far is on the page (rendered, or a raw tail)."""
    expect(answer).to_have_attribute("data-status", "streaming")
    expect(answer.locator(".bubble")).to_contain_text("You said")


def expect_whole_answer(answer: Locator) -> None:
    """Completed, with the full text exactly once (a replay that duplicated text would repeat it)."""
    expect(answer).to_have_attribute("data-status", "completed", timeout=SLOW_MS)
    expect(answer.locator(".markdown")).to_contain_text(LAST_WORDS)
    assert answer.locator(".markdown").inner_text().count("You said") == 1
    assert answer.locator(".markdown").inner_text().count(LAST_WORDS) == 1
    expect(answer.locator(".message-error")).to_be_hidden()
    expect(answer.locator(".reconnecting")).to_be_hidden()


@pytest.fixture
def second_page(context: BrowserContext) -> Iterator[Page]:
    """Another tab of the same browser (same cookie, same identity); no script error in it either."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"errors in the second page: {errors}"


def test_reload_mid_answer_keeps_streaming_to_the_end(page: Page) -> None:
    ask(page, "/slow survive a reload")
    expect_streaming(last_answer(page))
    conversation = conversation_id(page)

    open_page(page, page.url)
    answer = last_answer(page)
    expect_streaming(answer)  # the text so far, replayed, and still growing
    expect(page.locator("#stop-button")).to_be_visible()
    expect(page.locator(".message.user .user-text")).to_have_text(["/slow survive a reload"])
    expect_whole_answer(answer)
    expect(page.locator("#send-button")).to_be_visible()
    expect(answer.locator(".follow-ups .chip").first).to_be_visible()
    live_text = answer.locator(".markdown").inner_text()

    stored = stored_messages(page, conversation)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[-1]["status"] == "completed"
    assert LAST_WORDS in stored[-1]["content"]
    # What streamed after the reload is what was stored: the history renders the same text.
    open_page(page, page.url)
    expect(last_answer(page).locator(".markdown")).to_have_text(live_text)


def test_switching_away_and_back_mid_answer(page: Page) -> None:
    ask(page, "/slow come back to me")
    expect_streaming(last_answer(page))
    url = page.url

    page.locator("#new-chat").click()
    expect(page.locator("#empty-state")).to_be_visible()
    expect(page.locator("#send-button")).to_be_visible()  # nothing runs in a new chat
    expect(page.locator("#stop-button")).to_be_hidden()
    page.go_back()  # popstate
    expect(page).to_have_url(url)
    answer = last_answer(page)
    expect_streaming(answer)
    expect(page.locator(".message.assistant")).to_have_count(1)

    # Away again (another conversation) and back through the sidebar.
    page.locator("#new-chat").click()
    ask(page, "a quick one elsewhere")
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    page.locator(".conversation-link", has_text="come back to me").click()
    expect(page).to_have_url(url)
    expect_whole_answer(last_answer(page))
    expect(page.locator(".message.assistant .typing:visible")).to_have_count(0)


def test_two_tabs_follow_one_answer_and_either_can_stop_it(page: Page, second_page: Page) -> None:
    ask(page, to_stop("watched twice"))
    first = last_answer(page)
    expect_streaming(first)
    conversation = conversation_id(page)

    open_page(second_page, page.url)
    second = last_answer(second_page)
    expect_streaming(second)
    expect(second_page.locator("#stop-button")).to_be_visible()
    # The same stream: what one tab shows, the other shows too (it may be a word behind).
    expect(second.locator(".markdown")).to_contain_text(first.locator(".markdown").inner_text())
    expect(first.locator(".markdown")).to_contain_text(second.locator(".markdown").inner_text())

    second_page.locator("#stop-button").click()
    for tab, answer in ((page, first), (second_page, second)):
        expect(answer).to_have_attribute("data-status", "interrupted")
        expect(answer.locator(".status-mark")).to_have_text("Stopped")
        expect(answer.locator(".message-error")).to_be_hidden()
        expect(tab.locator("#send-button")).to_be_visible()
        expect(tab.locator("#stop-button")).to_be_hidden()
    stored = stored_messages(page, conversation)
    assert stored[-1]["status"] == "interrupted"
    assert "You said" in stored[-1]["content"]
    # Both tabs end with the stored partial answer.
    expect(first.locator(".markdown")).to_contain_text("You said")
    expect(second.locator(".markdown")).to_have_text(first.locator(".markdown").inner_text())


def test_two_conversations_stream_at_once(page: Page) -> None:
    ask(page, "/slow first of two")
    expect_streaming(last_answer(page))
    first_url = page.url

    page.locator("#new-chat").click()
    box = page.locator("#composer-input")
    box.fill("/slow second of two")
    expect(page.locator("#send-button")).to_be_enabled()  # the other conversation's turn does not block
    page.locator("#send-button").click()
    expect_streaming(last_answer(page))
    second_url = page.url
    assert second_url != first_url

    page.locator(".conversation-link", has_text="first of two").click()
    expect(page).to_have_url(first_url)
    expect_whole_answer(last_answer(page))
    page.locator(".conversation-link", has_text="second of two").click()
    expect(page).to_have_url(second_url)
    expect_whole_answer(last_answer(page))
    for url in (first_url, second_url):
        stored = stored_messages(page, url.rsplit("/c/", 1)[1])
        assert [m["status"] for m in stored if m["role"] == "assistant"] == ["completed"]


@pytest.fixture
def proxy(base_url: str) -> Iterator[CuttableProxy]:
    cuttable = CuttableProxy(base_url)
    yield cuttable
    cuttable.close()


def test_a_network_drop_reconnects_by_itself(browser: Browser, proxy: CuttableProxy) -> None:
    context = new_context(browser, proxy.url)  # the page talks to botport through the proxy
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sent: list[tuple[str, str]] = []
        page.on("request", lambda request: sent.append((request.method, request.url)))
        open_page(page, "/")
        ask(page, "/slow keep going through a drop")
        answer = last_answer(page)
        expect_streaming(answer)
        conversation = conversation_id(page)

        proxy.down = True
        proxy.cut()  # the answer's stream stops mid-body, and reconnecting fails for a while
        expect(answer.locator(".reconnecting")).to_be_visible()
        expect(answer.locator(".reconnecting")).to_have_text("Reconnecting…")
        expect(answer).to_have_attribute("data-status", "streaming")
        page.wait_for_timeout(1500)  # the page keeps trying
        expect(answer.locator(".message-error")).to_be_hidden()
        proxy.down = False

        expect_whole_answer(answer)
        expect(answer.locator(".follow-ups .chip").first).to_be_visible()
        stored = stored_messages(page, conversation)
        assert [m["role"] for m in stored] == ["user", "assistant"]
        assert stored[-1]["status"] == "completed"
        # It resumed after the last event it had, and never sent the question twice.
        resumed = [int(url.rsplit("after=", 1)[1]) for _, url in sent if "/events?after=" in url]
        assert resumed and min(resumed) > 1, sent
        posts = [url for method, url in sent if method == "POST" and url.endswith("/messages")]
        assert posts == [f"{proxy.url}/api/conversations/{conversation}/messages"]
        assert errors == []
    finally:
        context.close()


def test_a_failed_reattach_request_is_retried(page: Page) -> None:
    ask(page, "/slow try again")
    expect_streaming(last_answer(page))
    failed: list[str] = []

    def fail_twice(route: Route) -> None:
        if len(failed) == 0:
            failed.append(route.request.url)
            route.abort("connectionreset")
        elif len(failed) == 1:  # a proxy's answer while botport restarts: not botport's JSON error
            failed.append(route.request.url)
            route.fulfill(status=503, content_type="text/html", body="<h1>503 Service Unavailable</h1>")
        else:
            route.continue_()

    page.route("**/api/messages/*/events*", fail_twice)
    open_page(page, page.url)
    expect_whole_answer(last_answer(page))
    assert len(failed) == 2 and all("after=0" in url for url in failed)


def test_a_lost_send_is_resent_with_the_same_key(page: Page) -> None:
    """The first POST reaches the server but its answer is lost: the resend re-attaches, no second turn."""
    keys: list[str | None] = []

    def lose_first_answer(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fetch()  # the server gets the question and runs the turn...
            route.abort("connectionreset")  # ...but the page never hears of it
        else:
            route.continue_()

    page.route("**/api/conversations/*/messages", lose_first_answer)
    ask(page, "said once")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "completed")
    expect(answer.locator(".markdown")).to_contain_text("said once")
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    stored = stored_messages(page, conversation_id(page))
    assert [m["role"] for m in stored] == ["user", "assistant"]


def test_sending_while_another_tab_answers_shows_that_answer(page: Page, second_page: Page) -> None:
    ask(page, "a first question")
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    open_page(second_page, page.url)  # the second tab opens the conversation while it is idle
    expect(last_answer(second_page)).to_have_attribute("data-status", "completed")

    ask(page, "/slow the first tab asks")
    expect_streaming(last_answer(page))
    ask(second_page, "the second tab asks too")  # 409: the second tab did not know
    expect(second_page.locator(".message.user .user-text")).to_have_text(
        ["a first question", "/slow the first tab asks"]
    )
    expect_streaming(last_answer(second_page))
    expect(second_page.locator("#composer-input")).to_have_value("the second tab asks too")
    expect(second_page.locator("#stop-button")).to_be_visible()
    expect_whole_answer(last_answer(second_page))
    expect_whole_answer(last_answer(page))
