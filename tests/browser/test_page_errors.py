"""Errors a person understands: a failure reads as a sentence with its reason in the page's language and
its log id small; Retry on every failed answer; "Reconnecting…" through a dropped network or a server
restart, never the browser's raw error; the greeting makes room for messages when the server is down;
a bot that needs a client-side tool says so.

Demo commands: ``/fail`` (the chat fails, ``chat_failed``), ``/error`` (an error event, ``coze_error``),
``/slow`` (about 15 s of streaming). The weather demo bot always asks for its ``get_weather`` tool.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import (
    ask,
    demo_env,
    free_port,
    last_answer,
    open_page,
    own_page,
    running_botport,
    wait_until_healthy,
)
from playwright.sync_api import Browser, Locator, Page, expect

from net_faults import CuttableProxy

pytestmark = pytest.mark.browser

SLOW_MS = 60_000
RAW_ERRORS = re.compile(r"network error|Failed to fetch|NetworkError|ERR_", re.IGNORECASE)
FAIL_EN = "The answer failed: the bot could not finish. Coze said: “The demo bot failed on purpose (/fail).”"
FAIL_ZH = "回答失败：机器人未能完成回答。Coze 的说明：“The demo bot failed on purpose (/fail).”"
ERROR_ZH = "回答失败：Coze 返回了错误。Coze 的说明：“The demo bot broke the stream (/error).”"
TOOL_EN = (
    "This bot asks for a tool the page cannot run (get_weather). "
    "Use the API or the OpenAI endpoint with tools."
)
RESTARTED = "The answer failed: the server restarted before the answer was complete; the text so far is kept."
LOAD_FAILED = "Could not load this conversation: the connection to the server was lost."


def conversation_id(page: Page) -> str:
    return page.url.rsplit("/c/", 1)[1]


def stored_messages(page: Page) -> list[dict[str, Any]]:
    response = page.request.get(f"/api/conversations/{conversation_id(page)}/messages")
    assert response.ok, response.status
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def in_chinese(page: Page) -> None:
    page.locator("#lang-toggle").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def expect_failed(answer: Locator, sentence: str) -> None:
    expect(answer).to_have_attribute("data-status", "failed")
    expect(answer.locator(".message-error .error-sentence")).to_have_text(sentence)


def test_a_failure_is_a_sentence_in_the_page_language_with_its_log_id_small(page: Page) -> None:
    ask(page, "/fail in English")
    answer = last_answer(page)
    expect_failed(answer, FAIL_EN)
    logid = answer.locator(".message-error .logid code")
    expect(logid).to_have_text(re.compile(r"^\w{10,}$"))
    stored = stored_messages(page)[-1]
    assert stored["error"]["code"] == "chat_failed"
    expect(logid).to_have_text(stored["error"]["logid"])
    # Small, and selected whole with one click (to paste into a report).
    sizes = answer.locator(".message-error").evaluate(
        """(box) => [box.querySelector('.error-sentence'), box.querySelector('.logid code')]
            .map((el) => parseFloat(getComputedStyle(el).fontSize))"""
    )
    assert sizes[1] < sizes[0], sizes
    assert logid.evaluate("(el) => getComputedStyle(el).userSelect") == "all"

    in_chinese(page)
    ask(page, "/fail 中文")
    expect_failed(last_answer(page), FAIL_ZH)
    ask(page, "/error 中文")
    expect_failed(last_answer(page), ERROR_ZH)
    open_page(page, page.url)  # the history says it the same way, in the page's language
    sentences = page.locator(".message-error .error-sentence")
    expect(sentences).to_have_count(3)
    expect(sentences.nth(0)).to_have_text(FAIL_ZH)
    expect(page.locator(".message-error .retry-button").first).to_have_text("重试")


def test_retry_is_offered_on_every_failed_answer_live_and_in_the_history(page: Page) -> None:
    ask(page, "/fail first")
    expect(last_answer(page)).to_have_attribute("data-status", "failed")
    ask(page, "a good one")
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    ask(page, "/error third")
    expect(last_answer(page)).to_have_attribute("data-status", "failed")
    answers = page.locator(".message.assistant")
    # Live: the older failure keeps its Retry when the next question is sent; the good answer has none.
    for index, count in enumerate((1, 0, 1)):
        expect(answers.nth(index).locator(".retry-button")).to_have_count(count)

    open_page(page, page.url)
    for index, count in enumerate((1, 0, 1)):
        expect(answers.nth(index).locator(".retry-button")).to_have_count(count)
    failed_id = stored_messages(page)[1]["id"]
    page.evaluate(
        """() => { window.retries = [];
            document.addEventListener('botport:retry', (e) => window.retries.push(e.detail)); }"""
    )
    answers.first.locator(".retry-button").click()  # an older failure: its own question is answered again
    assert page.evaluate("window.retries") == [{"question": "/fail first", "messageId": failed_id}]
    expect(page.locator(".message.user .user-text").last).to_have_text("/fail first")
    expect(last_answer(page)).to_have_attribute("data-status", "failed")
    expect(last_answer(page).locator(".retry-button")).to_be_visible()
    newest = stored_messages(page)[-1]  # a new answer, not the old one shown again
    assert newest["status"] == "failed" and newest["id"] != failed_id


def test_a_timeout_reads_coze_did_not_answer_in_time(browser: Browser, tmp_path: Path) -> None:
    with running_botport(tmp_path, turn_timeout="2") as url, own_page(browser, url) as page:
        ask(page, "/slow too slow for the deadline")
        expect_failed(last_answer(page), "The answer failed: Coze did not answer in time.")
        expect(last_answer(page).locator(".retry-button")).to_be_visible()
        in_chinese(page)
        ask(page, "/slow 还是太慢")
        expect_failed(last_answer(page), "回答失败：Coze 没有及时回答。")


@contextmanager
def restartable_botport(data_dir: Path) -> Iterator[tuple[str, Any]]:
    """``botport serve`` on a fixed port; yields its URL and ``restart(kill)``: kill it (-9, as a crash
    would) and start it again on the same port and data (a turn it ran is resolved as ``turn_lost``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", "from botport.cli import app; app()", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    log_path = data_dir / "serve.log"
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        with log_path.open("ab") as log:
            process = subprocess.Popen(command, env=demo_env(data_dir), stdout=log, stderr=subprocess.STDOUT)
        processes.append(process)
        wait_until_healthy(url, process, log_path)

    def kill() -> None:
        processes[-1].kill()
        processes[-1].wait(timeout=15)

    start()
    try:
        yield url, (kill, start)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=15)


def test_a_server_crash_mid_answer_shows_reconnecting_then_why(browser: Browser, tmp_path: Path) -> None:
    with restartable_botport(tmp_path) as (url, (kill, start)), own_page(browser, url) as page:
        ask(page, "/slow cut short by a crash")
        answer = last_answer(page)
        expect(answer.locator(".markdown")).to_contain_text("You said")
        page.wait_for_timeout(2500)  # a checkpoint stores the text so far (every 2 s)
        kill()
        expect(answer.locator(".reconnecting")).to_have_text("Reconnecting…")
        page.wait_for_timeout(1500)  # it keeps trying, quietly
        expect(answer).to_have_attribute("data-status", "streaming")
        expect(answer.locator(".message-error")).to_be_hidden()
        start()
        expect_failed(answer, RESTARTED)
        expect(answer.locator(".reconnecting")).to_be_hidden()
        expect(answer.locator(".markdown")).to_contain_text("You said")  # the partial answer stays
        expect(answer.locator(".retry-button")).to_be_visible()
        expect(page.locator("#thread")).not_to_contain_text(RAW_ERRORS)
        assert stored_messages(page)[-1]["error"]["code"] == "turn_lost"


@pytest.fixture
def proxy(base_url: str) -> Iterator[CuttableProxy]:
    cuttable = CuttableProxy(base_url)
    yield cuttable
    cuttable.close()


def go_down(proxy: CuttableProxy) -> None:
    proxy.down = True
    proxy.cut()


def test_a_dropped_network_reconnects_in_the_page_language(browser: Browser, proxy: CuttableProxy) -> None:
    with own_page(browser, proxy.url, locale="zh-CN") as page:
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        ask(page, "/slow 断线后继续")
        answer = last_answer(page)
        expect(answer.locator(".markdown")).to_contain_text("You said")
        go_down(proxy)
        expect(answer.locator(".reconnecting")).to_have_text("正在重新连接…")
        page.wait_for_timeout(1500)
        proxy.down = False
        expect(answer).to_have_attribute("data-status", "completed", timeout=SLOW_MS)
        expect(answer.locator(".reconnecting")).to_be_hidden()
        expect(answer.locator(".message-error")).to_be_hidden()
        assert answer.locator(".markdown").inner_text().count("You said") == 1
        expect(page.locator("#thread")).not_to_contain_text(RAW_ERRORS)


def test_with_the_server_down_messages_never_sit_under_the_greeting(
    browser: Browser, proxy: CuttableProxy
) -> None:
    with own_page(browser, proxy.url) as page:
        ask(page, "kept for later")
        expect(last_answer(page)).to_have_attribute("data-status", "completed")
        kept = page.url
        page.locator("#new-chat").click()
        expect(page.locator("#empty-greeting")).to_be_visible()

        go_down(proxy)
        ask(page, "nobody hears this")
        expect_failed(last_answer(page), "The answer failed: the connection to the server was lost.")
        expect(page.locator("#empty-state")).to_be_hidden()
        expect(last_answer(page).locator(".retry-button")).to_be_visible()

        # Opening a conversation while the server is down says so; it does not claim it does not exist.
        page.locator(".conversation-link", has_text="kept for later").click()
        notice = page.locator(".load-failed .notice")
        expect(notice).to_have_text(LOAD_FAILED)
        expect(page.locator("#empty-state")).to_be_hidden()
        expect(page.locator("#thread")).not_to_contain_text("does not exist")
        proxy.down = False
        page.locator(".load-failed").get_by_role("button", name="Try again").click()
        expect(page).to_have_url(kept)
        expect(page.locator(".message.user .user-text")).to_have_text(["kept for later"])
        expect(page.locator("#empty-state")).to_be_hidden()


def test_a_bot_that_needs_a_client_tool_says_so(page: Page) -> None:
    page.select_option("#bot-select", "weather")
    ask(page, "What is the weather in Rome?")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "requires_action")
    expect(answer.locator(".notice")).to_have_text(TOOL_EN)
    expect(answer.locator(".typing")).to_be_hidden()
    open_page(page, page.url)  # the history says it too, not an empty bubble
    expect(last_answer(page).locator(".notice")).to_have_text(TOOL_EN)
    in_chinese(page)
    open_page(page, page.url)
    expect(last_answer(page).locator(".notice")).to_have_text(
        "该机器人请求运行网页无法运行的工具（get_weather）。请通过 API 或支持工具调用的 OpenAI 接口使用它。"
    )
    assert stored_messages(page)[-1]["tool_calls"][0]["name"] == "get_weather"
