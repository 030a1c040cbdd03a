"""The answer while it streams: rendered markdown before the end (server snapshots), no re-layout at
the end, and a view that lands — it follows the stream at the end of the thread (long lines, URLs,
code, chips), never yanks a reader who scrolled up, and offers "jump to latest"."""

from __future__ import annotations

import pytest
from browser_helpers import ask, last_answer, open_page
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

LONG_URL = "https://example.com/" + "/".join(f"segment{i}-with-a-long-name" for i in range(12)) + "?q=1"
LONG_WORD = "x" * 400
CODE = "```python\nprint('" + "y" * 300 + "')\nfor i in range(3):\n    print(i)\n```"

# The reader's view, measured in the page: the thread's end, the composer's top, how far from the end.
VIEW = """() => {
  const box = document.getElementById('thread');
  const answer = [...document.querySelectorAll('.message.assistant')].pop();
  const chips = answer.querySelector('.follow-ups');
  const end = (chips || answer).getBoundingClientRect();
  return {
    distance: box.scrollHeight - box.scrollTop - box.clientHeight,
    endBottom: end.bottom,
    composerTop: document.getElementById('composer').getBoundingClientRect().top,
    threadTop: box.getBoundingClientRect().top,
    wide: box.scrollWidth - box.clientWidth,
    jump: !document.querySelector('.jump-latest').hidden,
  };
}"""

SETTLED = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"


def test_markdown_is_rendered_while_the_answer_streams(page: Page) -> None:
    ask(page, "/slow **bold** words\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    answer = last_answer(page)
    table = answer.locator(".markdown table")
    expect(table).to_be_visible()
    expect(answer).to_have_attribute("data-status", "streaming")  # rendered BEFORE the turn ends
    expect(answer.locator(".markdown strong").first).to_be_visible()
    page.evaluate("() => { window.shown = document.querySelector('.message.assistant .markdown strong'); }")
    expect(answer).to_have_attribute("data-status", "completed", timeout=60_000)
    # The final render equals the last snapshot: the blocks already shown stayed (no re-layout).
    assert page.evaluate("() => window.shown.isConnected")
    expect(answer.locator(".stream-text")).to_be_empty()
    assert "**" not in answer.locator(".markdown").inner_text()


def test_the_view_lands_after_every_answer_in_a_long_conversation(page: Page) -> None:
    page.set_viewport_size({"width": 900, "height": 700})
    open_page(page, "/")
    kinds = [
        f"a long link {LONG_URL}",
        f"a long line {LONG_WORD}",
        f"some code\n\n{CODE}",
    ]
    # 12 turns: each kind four times, the thread many screens tall after the first few, and a /long
    # answer (turn 10) followed by another turn. (30 turns checked nothing more, in 2.5 times as long.)
    for turn in range(12):
        question = kinds[turn % len(kinds)]
        if turn == 10:
            question = "/long " + question
        ask(page, question)
        answer = last_answer(page)
        expect(answer).to_have_attribute("data-status", "completed", timeout=60_000)
        expect(answer.locator(".follow-ups .chip").first).to_be_visible()
        expect(page.locator("#send-button")).to_be_visible()
        page.evaluate(SETTLED)
        view = page.evaluate(VIEW)
        assert view["distance"] <= 2, (turn, view)
        assert view["threadTop"] <= view["endBottom"] <= view["composerTop"] + 1, (turn, view)
        assert view["wide"] <= 0, (turn, view)  # long URLs and lines wrap; code scrolls inside its pre
        assert not view["jump"], (turn, view)


def test_scrolling_up_is_not_undone_and_jump_to_latest_brings_the_end_back(page: Page) -> None:
    page.set_viewport_size({"width": 900, "height": 600})
    open_page(page, "/")
    for _ in range(2):
        ask(page, "/long fill the thread")
        expect(last_answer(page)).to_have_attribute("data-status", "completed", timeout=60_000)
    ask(page, "/slow keep streaming while I read " + " ".join(f"word{i}" for i in range(40)))
    answer = last_answer(page)
    expect(answer.locator(".markdown strong").first).to_be_visible()
    thread = page.locator("#thread")
    thread.hover()
    page.mouse.wheel(0, -900)
    page.wait_for_timeout(300)
    top = page.evaluate("() => document.getElementById('thread').scrollTop")
    jump = page.locator(".jump-latest")
    expect(jump).to_be_visible()
    expect(jump).to_have_accessible_name("Jump to latest")
    page.wait_for_timeout(1500)  # deltas and snapshots keep coming
    expect(answer).to_have_attribute("data-status", "streaming")
    assert page.evaluate("() => document.getElementById('thread').scrollTop") == top  # not yanked back
    jump.click()
    page.evaluate(SETTLED)
    assert page.evaluate(VIEW)["distance"] <= 2
    expect(jump).to_be_hidden()
    page.wait_for_timeout(800)  # following again as the stream goes on
    assert page.evaluate(VIEW)["distance"] <= 2
    page.locator("#stop-button").click()
    expect(answer).to_have_attribute("data-status", "interrupted")
