"""Thumbs up / down under an answer: toggling, kept across a reload, by keyboard, an error toast, and
the rating reaching Coze (the emulator) as the message's feedback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import ask, last_answer, new_context, open_page
from playwright.sync_api import Browser, Page, expect
from pydantic import SecretStr
from starlette.applications import Starlette

from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport
from botport.demo import demo_bots
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOTS
from botport.emulator.faults import Faults
from botport.settings import Settings

pytestmark = pytest.mark.browser

TOKEN = "pat_browser_feedback_not_secret"


def _stored_feedback(page: Page, base_url: str) -> Any:
    """The answer's feedback as botport's API has it (the page's own cookie, so its identity)."""
    conversation_id = page.url.rsplit("/", 1)[1]
    items = page.request.get(f"{base_url}/api/conversations/{conversation_id}/messages").json()["items"]
    return items[-1]["feedback"]


def test_thumbs_toggle_and_survive_a_reload(page: Page, base_url: str) -> None:
    ask(page, "rate me")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "completed")
    like, unlike = answer.locator(".feedback-button.like"), answer.locator(".feedback-button.unlike")
    expect(like).to_be_visible()
    expect(like).to_have_attribute("aria-pressed", "false")
    expect(like).to_have_attribute("aria-label", "Good answer")
    expect(answer.locator(".feedback")).to_have_attribute("role", "group")

    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(unlike).to_have_attribute("aria-pressed", "false")
    expect(like).to_have_attribute("aria-disabled", "false")
    assert _stored_feedback(page, base_url) == {"rating": "like", "comment": None}

    open_page(page, page.url)
    like, unlike = last_answer(page).locator(".feedback-button.like"), last_answer(page).locator(".unlike")
    expect(like).to_have_attribute("aria-pressed", "true")

    unlike.click()  # the other one replaces it
    expect(unlike).to_have_attribute("aria-pressed", "true")
    expect(like).to_have_attribute("aria-pressed", "false")
    unlike.click()  # pressed again: removed
    expect(unlike).to_have_attribute("aria-pressed", "false")
    assert _stored_feedback(page, base_url) is None
    open_page(page, page.url)
    expect(last_answer(page).locator(".feedback-button[aria-pressed='true']")).to_have_count(0)


def test_thumbs_by_keyboard_and_not_on_questions_or_unfinished_answers(page: Page, base_url: str) -> None:
    ask(page, "/fail now")
    expect(last_answer(page)).to_have_attribute("data-status", "failed")
    expect(last_answer(page).locator(".feedback")).to_be_hidden()
    ask(page, "keyboard")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "completed")
    expect(page.locator(".message.user .feedback")).to_have_count(0)
    unlike = answer.locator(".feedback-button.unlike")
    unlike.focus()
    page.keyboard.press("Enter")
    expect(unlike).to_have_attribute("aria-pressed", "true")
    expect(unlike).to_be_focused()  # the focus stayed while it was saved
    page.keyboard.press("Space")
    expect(unlike).to_have_attribute("aria-pressed", "false")
    assert _stored_feedback(page, base_url) is None


def test_a_failed_save_says_so_and_changes_nothing(page: Page) -> None:
    ask(page, "this will not save")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "completed")
    error = {"error": {"code": "upstream_busy", "message": "try again in a moment"}}
    page.route("**/feedback", lambda route: route.fulfill(status=503, json=error))
    like = answer.locator(".feedback-button.like")
    like.click()
    expect(page.locator("#toast")).to_be_visible()
    expect(page.locator("#toast")).to_contain_text("Could not save your rating: try again in a moment")
    expect(like).to_have_attribute("aria-pressed", "false")
    expect(like).to_have_attribute("aria-disabled", "false")


def test_the_buttons_are_labelled_in_chinese(page: Page) -> None:
    ask(page, "中文")
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    page.locator("#lang-toggle").click()
    expect(last_answer(page).locator(".feedback-button.like")).to_have_attribute("aria-label", "回答有帮助")
    expect(last_answer(page).locator(".feedback-button.unlike")).to_have_attribute("aria-label", "回答没帮助")


# --- the rating reaches Coze ----------------------------------------------------------------------


@pytest.fixture
def with_emulator(tmp_path: Path, live_server: Callable[..., Any]) -> Iterator[tuple[str, Starlette]]:
    """botport in token mode on a real server, its Coze the emulator in this process (so a test can
    read what Coze received); the demo bots without their delays."""
    coze = create_emulator_app(tokens=[TOKEN], bots=[replace(bot, faults=Faults()) for bot in DEMO_BOTS])
    settings = Settings(
        coze_token=SecretStr(TOKEN),
        coze_base_url="http://coze.test",
        bots=demo_bots(),
        data_dir=tmp_path / "data",
        secret_key=SecretStr("a-test-secret-key"),
    )
    server = live_server(create_app(settings, upstream_transport=StreamingASGITransport(coze)))
    yield server.url, coze


def _coze_feedback(coze: Starlette, content: str) -> str | None:
    """The feedback type Coze has for the answer with this text (None: none)."""
    store = coze.state.emulator.store
    for conversation in list(store.conversations.values()):
        for message in list(conversation.messages):
            if message.type == "answer" and message.content == content:
                record = store.feedback.get(message.id)
                return None if record is None else str(record.feedback_type)
    raise AssertionError(f"no answer {content!r} on Coze")


def _until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_like_in_the_page_reaches_coze(browser: Browser, with_emulator: tuple[str, Starlette]) -> None:
    url, coze = with_emulator
    context = new_context(browser, url)
    try:
        page = context.new_page()
        open_page(page, "/")
        ask(page, "tell Coze I liked it")
        answer = last_answer(page)
        expect(answer).to_have_attribute("data-status", "completed")
        content = _answer_text(page, url)
        like = answer.locator(".feedback-button.like")
        like.click()
        expect(like).to_have_attribute("aria-pressed", "true")
        assert _until(lambda: _coze_feedback(coze, content) == "like")

        open_page(page, page.url)
        like = last_answer(page).locator(".feedback-button.like")
        expect(like).to_have_attribute("aria-pressed", "true")
        like.click()
        expect(like).to_have_attribute("aria-pressed", "false")
        assert _until(lambda: _coze_feedback(coze, content) is None)
    finally:
        context.close()


def _answer_text(page: Page, base_url: str) -> str:
    conversation_id = page.url.rsplit("/", 1)[1]
    items = page.request.get(f"{base_url}/api/conversations/{conversation_id}/messages").json()["items"]
    return str(items[-1]["content"])
