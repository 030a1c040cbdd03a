"""The chat itself: streaming, stop, follow-ups, errors, hostile answers, history."""

from __future__ import annotations

import re

import pytest
from browser_helpers import RequestLog, ask, last_answer, open_page, to_stop
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser


def test_answer_streams_then_shows_rendered_markdown(page: Page) -> None:
    ask(page, "hello **world**")
    expect(page.locator(".message.user .user-text").last).to_have_text("hello **world**")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "completed")
    # The server's html replaced the streamed text: the quoted question is real markdown now.
    expect(answer.locator(".markdown blockquote strong")).to_have_text("world")
    expect(answer.locator(".stream-text")).to_be_empty()
    expect(answer.locator(".usage")).to_have_text(re.compile(r"\d+ tokens"))
    expect(answer.locator(".copy-button")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/c/[^/]+$"))
    expect(page.locator("#live")).to_contain_text("world")
    expect(page.locator("#empty-state")).to_be_hidden()


def test_partial_text_is_visible_before_the_end_and_stop_keeps_it(page: Page) -> None:
    ask(page, to_stop("tell me a long story"))
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "streaming")
    expect(answer.locator(".bubble")).to_contain_text("You said")  # partial text, still streaming
    expect(answer).to_have_attribute("data-status", "streaming")
    expect(page.locator("#send-button")).to_be_hidden()
    page.locator("#stop-button").click()

    expect(answer).to_have_attribute("data-status", "interrupted")
    expect(answer.locator(".status-mark")).to_have_text("Stopped")
    expect(answer).to_contain_text("You said")
    expect(page.locator("#send-button")).to_be_visible()
    expect(page.locator("#stop-button")).to_be_hidden()

    # The partial answer was stored as interrupted: a reload shows it, marked.
    open_page(page, page.url)
    stored = last_answer(page)
    expect(stored).to_have_attribute("data-status", "interrupted")
    expect(stored).to_contain_text("You said")
    expect(stored.locator(".status-mark")).to_be_visible()


def test_follow_up_chip_sends_its_question(page: Page) -> None:
    ask(page, "first question")
    chips = last_answer(page).locator(".follow-ups .chip")
    expect(chips.first).to_be_visible()
    chip_text = chips.first.inner_text()
    chips.first.click()
    expect(page.locator(".message.user")).to_have_count(2)
    expect(page.locator(".message.user .user-text").last).to_have_text(chip_text)
    expect(page.locator(".message.assistant")).to_have_count(2)
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    # Only the newest answer offers follow-ups.
    expect(page.locator(".message.assistant").first.locator(".follow-ups")).to_have_count(0)


def test_failure_is_shown_inline_and_retry_answers_again(page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    ask(page, "/fail please")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "failed")
    error = answer.locator(".message-error")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("role", "alert")
    error.locator(".retry-button").click()
    # A new version of the answer, not the question asked twice (test_page_branches.py has more).
    expect(last_answer(page).locator(".version-label")).to_have_text("2/2")
    expect(page.locator(".message.user .user-text")).to_have_text(["/fail please"])
    expect(last_answer(page)).to_have_attribute("data-status", "failed")
    assert dialogs == []


def test_history_survives_a_reload_and_back_forward_works(page: Page) -> None:
    ask(page, "remember me")
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    conversation_url = page.url

    open_page(page, conversation_url)
    expect(page.locator(".message.user .user-text")).to_have_text(["remember me"])
    expect(last_answer(page).locator(".markdown")).to_contain_text("remember me")
    expect(last_answer(page).locator(".follow-ups .chip").first).to_be_visible()
    expect(page.locator(".conversation.current")).to_have_count(1)

    page.locator("#new-chat").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#empty-state")).to_be_visible()
    page.go_back()
    expect(page).to_have_url(conversation_url)
    expect(page.locator(".message.user .user-text")).to_have_text(["remember me"])
    page.go_forward()
    expect(page.locator("#empty-state")).to_be_visible()
    expect(page.locator(".message")).to_have_count(0)


def test_unknown_conversation_says_so(page: Page) -> None:
    open_page(page, "/c/does-not-exist")
    expect(page.locator(".notice")).to_be_visible()


def test_hostile_answer_runs_nothing(page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    hostile = (
        "<script>window.__pwned = 'script'; alert(1)</script> "
        "<img src=x onerror=\"window.__pwned = 'img'; alert(2)\"> "
        "[click me](javascript:window.__pwned='link';alert(3)) "
        '<a href="javascript:alert(4)">raw</a> <svg onload="alert(5)"></svg>'
    )
    ask(page, hostile)
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "completed")
    expect(answer.locator(".markdown")).to_contain_text("<script>")  # shown as text
    links = answer.locator(".markdown a")
    for index in range(links.count()):
        href = links.nth(index).get_attribute("href") or ""
        assert href.startswith(("http://", "https://", "mailto:")), href
    # Clicking the would-be link does nothing either.
    answer.locator(".markdown", has_text="click me").get_by_text("click me").first.click()

    open_page(page, page.url)  # and the stored history renders just as safely
    expect(last_answer(page).locator(".markdown")).to_contain_text("<script>")
    found = page.evaluate(
        """() => ({
            pwned: window.__pwned ?? null,
            scripts: document.querySelectorAll('#messages script').length,
            images: document.querySelectorAll('#messages img:not(.avatar)').length,
            svgInAnswers: document.querySelectorAll('.markdown svg').length,
            handlers: [...document.querySelectorAll('#messages *')].flatMap(
                el => [...el.attributes].map(a => a.name)).filter(n => n.startsWith('on')),
            jsLinks: [...document.querySelectorAll('#messages a')].filter(
                a => (a.getAttribute('href') || '').toLowerCase().includes('javascript')).length,
        })"""
    )
    assert found == {
        "pwned": None,
        "scripts": 0,
        "images": 0,
        "svgInAnswers": 0,
        "handlers": [],
        "jsLinks": 0,
    }
    assert dialogs == []


def test_the_page_requests_nothing_from_another_origin(
    page: Page, base_url: str, requests_seen: RequestLog
) -> None:
    ask(page, "```python\nprint('hi')\n```\n![remote](https://images.example.com/cat.png)")
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    expect(last_answer(page).locator(".markdown pre.hl").first).to_be_visible()
    open_page(page, page.url)
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    assert requests_seen.urls, "no request recorded"
    assert requests_seen.foreign(base_url) == []


def test_security_headers_on_the_page(page: Page, base_url: str) -> None:
    response = page.request.get(f"{base_url}/")
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    # The API docs: the same policy (Swagger UI comes from the package, started by a script file).
    docs = page.request.get(f"{base_url}/docs")
    assert docs.headers["content-security-policy"] == headers["content-security-policy"]
    assert docs.headers["x-content-type-options"] == "nosniff"


def test_the_api_docs_render_under_their_policy(context: BrowserContext, base_url: str) -> None:
    docs = context.new_page()
    violations: list[str] = []
    docs.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    docs.on("pageerror", lambda error: violations.append(str(error)))
    docs.goto(f"{base_url}/docs")
    expect(docs.locator(".opblock-summary-path").first).to_be_visible()
    expect(docs.get_by_text("/v1/chat/completions").first).to_be_visible()
    assert violations == []
