"""Screen readers and keyboards: who said what, one announcement per answer, the phone drawer as a modal,
keyboard shortcuts and their help, the sidebar's titles using the row's width."""

from __future__ import annotations

import re

import pytest
from browser_helpers import ask, last_answer, new_context, open_page
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


def test_each_message_says_who_said_it(page: Page) -> None:
    ask(page, "hello there")
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    said = page.locator(".message.user .visually-hidden").first
    expect(said).to_have_text("You said:")
    expect(last_answer(page).locator(".visually-hidden").first).to_have_text(re.compile(r"^.+ said:$"))
    # Stored history (after a reload) says it too, in the page's language.
    page.locator("#lang-toggle").click()
    open_page(page, page.url)
    expect(page.locator(".message.user .visually-hidden").first).to_have_text("你说：")
    expect(last_answer(page).locator(".visually-hidden").first).to_have_text(re.compile(r"^.+ 说：$"))


def test_live_region_announces_the_plain_answer_once(page: Page) -> None:
    page.evaluate(
        """() => {
          window.liveTexts = [];
          const live = document.getElementById("live");
          new MutationObserver(() => {
            if (live.textContent) window.liveTexts.push(live.textContent);
          }).observe(live, { childList: true, characterData: true, subtree: true });
        }"""
    )
    ask(page, "hello **world**")
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    expect(page.locator("#live")).to_contain_text("world")
    texts: list[str] = page.evaluate("window.liveTexts")
    answered = [text for text in texts if " answered: " in text]
    assert len(answered) == 1, texts  # once per answer, not once per delta
    assert "**" not in answered[0] and "world" in answered[0], answered  # the rendered text, not markdown
    assert len(texts) == 2, texts  # "… is answering…", then the answer


def test_language_and_theme_buttons_name_their_visible_text(page: Page) -> None:
    expect(page.locator("#lang-toggle")).to_have_accessible_name(re.compile(r"Switch language\s*中文"))
    expect(page.locator("#theme-toggle")).to_have_accessible_name(re.compile(r"Switch theme\s*(Dark|Light)"))


def test_code_blocks_take_focus_to_scroll(page: Page) -> None:
    ask(page, "/long some code")
    pre = last_answer(page).locator(".markdown pre").first
    expect(pre).to_have_attribute("tabindex", "0")
    # Focused while the answer is still being written, the block keeps focus as its rendering grows.
    page.wait_for_function(
        """() => {
          const answers = document.querySelectorAll('.message.assistant');
          const pre = answers[answers.length - 1]?.querySelector('.markdown pre');
          if (!pre) return false;
          pre.focus();
          return document.activeElement === pre;
        }"""
    )
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    expect(pre).to_be_focused()


def test_focus_stays_on_a_block_rendered_again(page: Page) -> None:
    # The page's own patchHtml: the growing block is a new node, and focus moves to it.
    kept = page.evaluate(
        """async () => {
          const src = [...document.scripts].map((s) => s.src).find((s) => s.includes('/js/'));
          const { patchHtml } = await import(new URL('patch.js', src).href);
          const answer = document.createElement('div');
          document.body.append(answer);
          patchHtml(answer, '<p>intro</p><pre tabindex="0">a</pre>');
          answer.querySelector('pre').focus();
          patchHtml(answer, '<p>intro</p><pre tabindex="0">ab</pre>');
          const kept = document.activeElement === answer.querySelector('pre');
          answer.remove();
          return kept;
        }"""
    )
    assert kept


def test_phone_drawer_traps_focus_and_closes_on_escape(browser: Browser, base_url: str) -> None:
    context = new_context(browser, base_url, viewport={"width": 390, "height": 844}, has_touch=True)
    try:
        page = context.new_page()
        open_page(page, "/")
        ask(page, "a question for the list")
        expect(last_answer(page)).to_have_attribute("data-status", "completed")
        toggle = page.locator("#sidebar-toggle")
        toggle.click()
        expect(page.locator("#new-chat")).to_be_focused()
        expect(page.locator("#main")).to_have_js_property("inert", True)
        inside = "document.getElementById('sidebar').contains(document.activeElement)"
        for _ in range(12):  # more Tabs than the drawer has controls: focus never leaves it
            page.keyboard.press("Tab")
            assert page.evaluate(inside)
        for _ in range(12):
            page.keyboard.press("Shift+Tab")
            assert page.evaluate(inside)
        page.keyboard.press("Escape")
        expect(page.locator("#app")).not_to_have_class(re.compile("sidebar-open"))
        expect(toggle).to_be_focused()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(page.locator("#main")).to_have_js_property("inert", False)
    finally:
        context.close()


def test_shortcuts_dialog_opens_with_question_mark_and_button(page: Page) -> None:
    dialog = page.locator("#shortcuts-dialog")
    page.locator("body").press("?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("New chat")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # Typing "?" in the message box types it.
    box = page.locator("#composer-input")
    box.press_sequentially("why?")
    expect(box).to_have_value("why?")
    expect(dialog).to_be_hidden()
    button = page.get_by_role("button", name="Keyboard shortcuts")
    button.click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_shortcuts_focus_the_box_stop_the_answer_and_start_a_new_chat(page: Page) -> None:
    page.locator("#new-chat").focus()
    page.keyboard.press("/")
    box = page.locator("#composer-input")
    expect(box).to_be_focused()
    expect(box).to_have_value("")
    ask(page, "/slow a long story")
    answer = last_answer(page)
    expect(answer.locator(".markdown")).not_to_be_empty()  # rendered while it streams
    page.keyboard.press("Escape")
    expect(answer).to_have_attribute("data-status", "interrupted")
    expect(page).to_have_url(re.compile(r"/c/[^/]+$"))
    page.keyboard.press("Control+Shift+O")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("#empty-state")).to_be_visible()


def test_sidebar_titles_use_the_row_width(page: Page) -> None:
    ask(page, "a question whose title is long enough to fill the whole sidebar row and more")
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    page.locator("#new-chat").click()  # the conversation is no longer the current one
    expect(page).to_have_url(re.compile(r"/$"))
    row = page.locator(".conversation").first
    page.mouse.move(900, 400)  # not hovering the sidebar
    widths = row.evaluate(
        """(row) => ({
          row: row.clientWidth,
          title: row.querySelector('.conversation-title').clientWidth,
          full: row.querySelector('.conversation-title').scrollWidth,
        })"""
    )
    assert widths["full"] > widths["title"], widths  # the title is long enough to be cut
    assert widths["title"] >= 0.8 * widths["row"], widths
    # Hovering shows rename and delete over the row's end.
    row.hover()
    expect(row.locator(".rename-button")).to_have_css("opacity", "1")
