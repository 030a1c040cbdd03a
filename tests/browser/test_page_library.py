"""Find and keep, in the page: search from the sidebar, date groups, pin, export (Markdown, JSON) and
import, and each row's bot."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_helpers import new_context, open_page
from browser_helpers import start_conversation as new_chat
from playwright.sync_api import Browser, Locator, Page, expect

pytestmark = pytest.mark.browser


def start_conversation(page: Page, question: str) -> str:
    """Ask in a new chat; the conversation's id once its answer is complete."""
    return new_chat(page, question).rsplit("/", 1)[1]


def import_conversation(page: Page, title: str, when: datetime, *texts: str, bot: str = "demo") -> str:
    """Store a conversation of this browser's last active at `when` (through the import API)."""
    stamp = when.isoformat()
    messages = [
        {"role": "user" if n % 2 == 0 else "assistant", "content": text, "created_at": stamp}
        for n, text in enumerate(texts)
    ]
    body = {
        "format": "botport.conversation",
        "version": 1,
        "conversation": {"title": title, "bot": bot, "created_at": stamp},
        "messages": messages,
    }
    response = page.request.post("/api/import", data=body)
    assert response.status == 201, response.text()
    conversation_id: str = response.json()["id"]
    return conversation_id


def groups(page: Page) -> list[tuple[str, list[str]]]:
    """The sidebar's groups: (heading, [titles])."""
    found = []
    for group in page.locator(".conversation-group").all():
        heading = group.locator(".conversation-group-title").inner_text()
        found.append((heading, group.locator(".conversation-title").all_inner_texts()))
    return found


def row(page: Page, title: str) -> Locator:
    return page.locator(".conversation", has=page.locator(".conversation-title", has_text=title))


def menu_item(page: Page, row_locator: Locator, name: str) -> Locator:
    row_locator.hover()
    row_locator.locator(".more-button").click()
    return page.get_by_role("menuitem", name=name)


def test_search_finds_a_word_from_an_old_answer(page: Page) -> None:
    old = start_conversation(page, "/long how does it work?")
    # The word is in the answer only (the demo bot explains "increments" of text), never in a question.
    assert "increments" in page.locator(".message.assistant").last.inner_text()
    start_conversation(page, "something newer")
    start_conversation(page, "the newest question")

    page.locator("#composer-input").focus()
    page.keyboard.press("Control+k")  # the shortcut, from the message box
    search = page.locator("#conversation-search")
    expect(search).to_be_focused()
    search.press_sequentially("increments", delay=20)
    results = page.locator(".search-result")
    expect(results).to_have_count(1)
    expect(page.locator(".conversation-list")).to_be_hidden()
    expect(page.locator("#search-status")).to_have_text("1 found")
    hit = results.first
    expect(hit.locator(".search-title")).to_contain_text("/long how does it work?")
    expect(hit.locator("mark").first).to_have_text(re.compile("^increments$", re.IGNORECASE))

    search.press("ArrowDown")  # to the results, then open one
    expect(hit.locator("a")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/c/{old}$"))
    expect(page.locator(".message.user .user-text")).to_have_text(["/long how does it work?"])

    search.fill("no such word anywhere")
    expect(page.locator("#search-status")).to_have_text("No conversation matches.")
    expect(results).to_have_count(0)
    search.press("Escape")  # clears the search: the list is back, the answer not stopped
    expect(search).to_have_value("")
    expect(page.locator(".conversation-list")).to_be_visible()
    expect(page.locator(".conversation")).to_have_count(3)

    page.locator("body").press("?")
    dialog = page.locator("#shortcuts-dialog")
    expect(dialog).to_contain_text("Search conversations")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_the_search_shortcut_opens_a_hidden_sidebar(browser: Browser, base_url: str) -> None:
    for viewport in ({"width": 1280, "height": 800}, {"width": 390, "height": 844}):
        context = new_context(browser, base_url, viewport=viewport)
        try:
            page = context.new_page()
            open_page(page, "/")
            if viewport["width"] > 768:
                page.locator("#sidebar-toggle").click()  # collapsed on a wide screen
            expect(page.locator("#conversation-search")).to_be_hidden()
            page.keyboard.press("Control+k")
            expect(page.locator("#conversation-search")).to_be_focused()
            expect(page.locator("#conversation-search")).to_be_visible()
            expect(page.locator("#conversation-search")).to_be_in_viewport()
            expect(page.locator("#sidebar-toggle")).to_have_attribute("aria-expanded", "true")
        finally:
            context.close()


def test_date_groups_in_both_languages(browser: Browser, base_url: str) -> None:
    zone = "Asia/Shanghai"  # the reader's days, not the server's (UTC)
    context = new_context(browser, base_url, timezone_id=zone)
    try:
        page = context.new_page()
        open_page(page, "/")
        now = datetime.now(UTC)
        ages = {
            "today": 0,
            "yesterday": 1,
            "three days": 3,
            "twenty days": 20,
            "long ago": 100,
            "last year": 400,
        }
        for title, days in ages.items():
            import_conversation(page, title, now - timedelta(days=days), f"question {title}", "an answer")
        open_page(page, "/")
        local = now.astimezone(ZoneInfo(zone))
        month = (local - timedelta(days=100)).strftime("%B %Y")
        older = (local - timedelta(days=400)).strftime("%B %Y")
        assert groups(page) == [
            ("Today", ["today"]),
            ("Yesterday", ["yesterday"]),
            ("Previous 7 days", ["three days"]),
            ("Previous 30 days", ["twenty days"]),
            (month, ["long ago"]),
            (older, ["last year"]),
        ]
        page.locator("#lang-toggle").click()
        headings = [heading for heading, _ in groups(page)]
        assert headings[:4] == ["今天", "昨天", "过去 7 天", "过去 30 天"]
        assert headings[4] == (local - timedelta(days=100)).strftime("%Y年%-m月")
    finally:
        context.close()


def test_pin_moves_to_the_top_and_survives_a_reload(page: Page) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=60)
    import_conversation(page, "an old favourite", long_ago, "q", "a")
    start_conversation(page, "a newer one")
    open_page(page, "/")
    assert groups(page)[0][0] == "Today"

    menu_item(page, row(page, "an old favourite"), "Pin").click()
    expect(page.locator(".conversation-group").first).to_contain_text("Pinned")
    assert groups(page)[0] == ("Pinned", ["an old favourite"])
    assert groups(page)[1] == ("Today", ["a newer one"])
    expect(row(page, "an old favourite").locator(".more-button")).to_be_focused()  # the keyboard stays
    open_page(page, "/")
    assert groups(page)[0] == ("Pinned", ["an old favourite"])

    # By keyboard: the menu opens on Enter, arrows move, Enter picks; Escape closes without a change.
    more = row(page, "an old favourite").locator(".more-button")
    more.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("menuitem", name="Unpin")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("menuitem", name="Export as Markdown")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_have_count(0)
    expect(more).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # Unpin
    expect(page.locator(".conversation-group").first).not_to_contain_text("Pinned")
    assert [title for _, titles in groups(page) for title in titles] == ["a newer one", "an old favourite"]
    open_page(page, "/")
    assert "Pinned" not in [heading for heading, _ in groups(page)]


def test_export_json_then_import_gives_the_same_messages(page: Page, tmp_path: Path) -> None:
    first = start_conversation(page, "remember the pangolin")
    page.locator("#composer-input").fill("and the quokka")
    page.locator("#composer-input").press("Enter")
    expect(page.locator(".message.assistant")).to_have_count(2)
    expect(page.locator(".message.assistant").last).to_have_attribute("data-status", "completed")

    with page.expect_download() as caught:
        menu_item(page, row(page, "remember the pangolin"), "Export as JSON").click()
    download = caught.value
    assert download.suggested_filename == "remember the pangolin.json"  # the title (filename*)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    exported: dict[str, Any] = json.loads(saved.read_text(encoding="utf-8"))
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant", "user", "assistant"]

    with page.expect_file_chooser() as chooser:
        page.locator("#import-button").click()
    chooser.value.set_files(saved)
    expect(page).not_to_have_url(re.compile(f"/c/{first}$"))
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f]+$"))
    copy = page.url.rsplit("/", 1)[1]
    expect(page.locator(".message.user .user-text")).to_have_text(["remember the pangolin", "and the quokka"])
    expect(page.locator(".conversation")).to_have_count(2)
    expect(page.locator(".conversation.current .conversation-title")).to_have_text("remember the pangolin")

    again = page.request.get(f"/api/conversations/{copy}/export").json()
    assert again["messages"] == exported["messages"]
    assert again["conversation"] == exported["conversation"]

    bad = tmp_path / "notes.json"
    bad.write_text("these are not JSON", encoding="utf-8")
    page.locator("#import-file").set_input_files(bad)
    expect(page.locator("#toast")).to_contain_text("Could not import the file")
    expect(page.locator(".conversation")).to_have_count(2)


def test_export_markdown_downloads_readable_markdown(page: Page, tmp_path: Path) -> None:
    start_conversation(page, "what is markdown?")
    with page.expect_download() as caught:
        menu_item(page, row(page, "what is markdown?"), "Export as Markdown").click()
    download = caught.value
    assert download.suggested_filename == "what is markdown.md"  # "?" cannot be in a file name
    saved = tmp_path / "export.md"
    download.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("# what is markdown?\n")
    you, answer = text.split("### You · ")[1].split("### ")
    assert "what is markdown?" in you
    assert "offline Coze emulator" in answer


def test_rows_name_their_bot_when_there_are_several(page: Page) -> None:
    picker = page.locator("#bot-select")
    options = picker.locator("option")
    assert options.count() >= 2  # demo mode offers several bots
    start_conversation(page, "for the first bot")
    page.locator("#new-chat").click()
    picker.select_option(options.nth(1).get_attribute("value"))
    second_bot = options.nth(1).inner_text()
    page.locator("#composer-input").fill("for the second bot")  # a tool bot: it ends asking for its tool
    page.locator("#composer-input").press("Enter")
    expect(page.locator(".message.assistant")).to_have_count(1)
    expect(page.locator(".message.assistant").last).not_to_have_attribute("data-status", "streaming")
    expect(row(page, "for the second bot").locator(".conversation-bot")).to_have_text(second_bot)
    expect(row(page, "for the first bot").locator(".conversation-bot")).to_have_text(
        options.nth(0).inner_text()
    )
    # Its accessible name says it too.
    expect(row(page, "for the second bot").locator(".conversation-link")).to_have_accessible_name(
        re.compile(f"for the second bot.*{re.escape(second_bot)}")
    )
