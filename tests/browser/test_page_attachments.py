"""Images and files in the web chat: attached by paste, by the paperclip button and by drag and drop,
uploaded at once, checked before uploading (size, type, count) with the server's own refusals read the
same way, shown in the thread (and after a reload), kept apart per conversation, and private to their
owner. The demo bot answers what it got ("You attached 1 file: photo.png (image/png, …, 640×480)")."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from browser_helpers import RequestLog, ask, last_answer, open_page, own_page
from playwright.sync_api import Browser, BrowserContext, FilePayload, JSHandle, Page, Route, expect

from image_files import png

pytestmark = pytest.mark.browser

MB = 1024 * 1024
TOO_LARGE = "The file is larger than 10 MB, the most this chat accepts."
WRONG_TYPE = "This kind of file cannot be attached; images, PDF, text and Office files can."

# A PNG drawn in the page (a canvas), as a File: what a screenshot on the clipboard is.
PNG_FILE = """async ([name, width, height]) => {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d");
  g.fillStyle = "#3b82f6";
  g.fillRect(0, 0, width, height);
  g.fillStyle = "#f59e0b";
  g.fillRect(width / 4, height / 4, width / 2, height / 2);
  const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
  return new File([blob], name, { type: "image/png" });
}"""

# Paste a DataTransfer into the message box, as the browser does: a ClipboardEvent; was it taken?
PASTE = """(data) => {
  const box = document.getElementById("composer-input");
  box.focus();
  const event = new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true });
  box.dispatchEvent(event);
  return event.defaultPrevented;
}"""


def _png_transfer(page: Page, name: str, width: int, height: int) -> JSHandle:
    """A DataTransfer holding one PNG made in the page (for a paste or a drop)."""
    file = page.evaluate_handle(PNG_FILE, [name, width, height])
    return page.evaluate_handle(
        "(file) => { const data = new DataTransfer(); data.items.add(file); return data; }", file
    )


def _file(name: str, mime_type: str, buffer: bytes) -> FilePayload:
    return {"name": name, "mimeType": mime_type, "buffer": buffer}


def _tray(page: Page) -> Any:
    return page.locator("#attachment-tray .attachment")


def _uploads(requests: RequestLog) -> list[str]:
    return [url for url in requests.urls if url.endswith("/api/files")]


def _expect_loaded(page: Page, selector: str) -> None:
    """The image `selector` has loaded: the browser decoded real pixels."""
    page.wait_for_function(
        "(sel) => { const img = document.querySelector(sel); return img?.complete && img.naturalWidth > 0; }",
        arg=selector,
    )


def _answered(page: Page) -> None:
    expect(last_answer(page)).to_have_attribute("data-status", "completed")
    expect(page.locator("#send-button")).to_be_visible()


def test_a_pasted_image_reaches_the_bot_and_shows_in_the_thread_after_a_reload_too(page: Page) -> None:
    # Text on the clipboard pastes as text: the page leaves it to the browser.
    text = page.evaluate_handle(
        "() => { const d = new DataTransfer(); d.setData('text/plain', 'hi'); return d; }"
    )
    assert page.evaluate(PASTE, text) is False
    expect(page.locator("#attachment-tray")).to_be_hidden()

    assert page.evaluate(PASTE, _png_transfer(page, "photo.png", 640, 480)) is True
    item = _tray(page)
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-status", "done")
    expect(item.locator(".attachment-name")).to_have_text("photo.png")
    expect(item.locator("img.attachment-thumb")).to_have_attribute("src", re.compile(r"^data:image/png"))
    expect(page.locator("#live")).to_have_text("photo.png attached")
    # Files go without text: Send is enabled with an empty box.
    expect(page.locator("#composer-input")).to_have_value("")
    expect(page.locator("#send-button")).to_be_enabled()
    page.locator("#composer-input").press("Enter")

    answer = last_answer(page)
    expect(answer).to_contain_text(
        re.compile(r"You attached 1 file: photo\.png \(image/png, [\d.]+ KB, 640×480\)")
    )
    _answered(page)
    expect(page.locator("#attachment-tray")).to_be_hidden()  # sent: the tray is empty

    image = page.locator(".message.user .message-attachments img")
    expect(image).to_have_attribute("alt", "photo.png")
    expect(image).to_have_attribute("width", "640")
    expect(image).to_have_attribute("height", "480")
    expect(image).to_have_attribute("loading", "lazy")
    url = image.get_attribute("src") or ""
    assert re.fullmatch(r"/api/files/[^/]+", url)
    link = page.locator(".message.user a.attachment-image")
    expect(link).to_have_attribute("href", url)
    expect(link).to_have_attribute("target", "_blank")
    _expect_loaded(page, ".message.user .message-attachments img")
    expect(page.locator(".message.user .user-text")).to_have_count(0)  # no text was sent

    open_page(page, page.url)  # the history, from the API
    image = page.locator(".message.user .message-attachments img")
    expect(image).to_have_attribute("src", url)
    expect(image).to_have_attribute("width", "640")
    expect(image).to_have_attribute("height", "480")
    _expect_loaded(page, ".message.user .message-attachments img")
    expect(last_answer(page)).to_contain_text("photo.png")

    # Regenerate asks again with the stored attachment.
    last_answer(page).locator(".regenerate-button").click()
    expect(last_answer(page).locator(".version-label")).to_have_text("2/2")
    _answered(page)
    expect(last_answer(page)).to_contain_text(re.compile(r"You attached 1 file: photo\.png \(image/png"))


def test_the_paperclip_attaches_files_from_the_keyboard_and_a_file_shows_as_a_download(
    context: BrowserContext,
) -> None:
    page = context.new_page()
    # Playwright turns file-chooser interception on when the first listener is added, without waiting:
    # added before the page loads, it is on by the time the button is pressed.
    page.on("filechooser", lambda _: None)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_page(page, "/")
    button = page.get_by_role("button", name="Attach files")
    button.focus()
    expect(button).to_be_focused()
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    assert chooser.value.is_multiple()
    chooser.value.set_files(
        [
            _file("notes.txt", "text/plain", b"hello, bot"),
            _file("dot.png", "image/png", png(30, 20)),
        ]
    )
    expect(_tray(page)).to_have_count(2)
    expect(_tray(page).nth(0)).to_have_attribute("data-status", "done")
    expect(_tray(page).nth(1)).to_have_attribute("data-status", "done")
    expect(_tray(page).nth(0).locator(".attachment-detail")).to_have_text("10 B")
    ask(page, "two things")

    answer = last_answer(page)
    expect(answer).to_contain_text(
        re.compile(r"You attached 2 files: notes\.txt \(text/plain.*dot\.png \(image/png")
    )
    _answered(page)
    question = page.locator(".message.user")
    expect(question.locator(".user-text")).to_have_text("two things")
    chip = question.locator("a.file-chip")
    expect(chip).to_have_accessible_name(re.compile(r"Download notes\.txt\s*10 B"))
    expect(chip).to_have_attribute("download", "notes.txt")
    response = page.request.get(chip.get_attribute("href") or "")
    assert response.status == 200
    assert response.body() == b"hello, bot"
    dot = question.locator("img")
    expect(dot).to_have_attribute("width", "30")
    _expect_loaded(page, ".message.user img")
    assert errors == []


def test_files_dropped_on_the_chat_are_attached(page: Page) -> None:
    data = _png_transfer(page, "dropped.png", 64, 48)
    page.dispatch_event("#thread", "dragenter", {"dataTransfer": data})
    zone = page.locator("#drop-zone")
    expect(zone).to_be_visible()
    expect(zone).to_have_text("Drop files here to attach them")
    expect(page.locator("#main")).to_have_class(re.compile(r"\bdropping\b"))
    expect(page.locator("#live")).to_have_text("Drop files here to attach them")
    page.dispatch_event("#thread", "dragleave", {"dataTransfer": data})
    expect(zone).to_be_hidden()
    expect(page.locator("#main")).not_to_have_class(re.compile(r"\bdropping\b"))
    expect(page.locator("#attachment-tray")).to_be_hidden()

    page.dispatch_event("#thread", "dragenter", {"dataTransfer": data})
    page.dispatch_event("#messages", "dragenter", {"dataTransfer": data})  # into a child: still over the chat
    page.dispatch_event("#thread", "dragleave", {"dataTransfer": data})
    expect(zone).to_be_visible()
    page.dispatch_event("#messages", "dragover", {"dataTransfer": data})
    page.dispatch_event("#messages", "drop", {"dataTransfer": data})
    expect(zone).to_be_hidden()
    expect(_tray(page)).to_have_attribute("data-status", "done")
    ask(page, "what did I drop?")
    expect(last_answer(page)).to_contain_text(re.compile(r"dropped\.png \(image/png, [\d.]+ (KB|B), 64×48\)"))


def test_too_large_and_wrong_type_say_why_and_upload_nothing(page: Page, requests_seen: RequestLog) -> None:
    page.set_input_files(
        "#attach-input",
        [
            _file("huge.png", "image/png", png(8, 8) + bytes(10 * MB)),
            _file("tool.exe", "application/x-msdownload", b"MZ\x90\x00"),
        ],
    )
    huge, tool = _tray(page).nth(0), _tray(page).nth(1)
    expect(huge).to_have_attribute("data-status", "failed")
    expect(huge.locator(".attachment-detail")).to_have_text(TOO_LARGE)
    expect(tool).to_have_attribute("data-status", "failed")
    expect(tool.locator(".attachment-detail")).to_have_text(WRONG_TYPE)
    expect(page.locator("#live")).to_contain_text("tool.exe could not be attached")
    assert _uploads(requests_seen) == []

    # Send waits until the failed files are removed, and says so.
    page.locator("#composer-input").fill("with the files?")
    expect(page.locator("#send-button")).to_be_disabled()
    page.locator("#composer-input").press("Enter")
    status = page.locator("#attachment-status")
    expect(status).to_have_text("Remove the files that could not be attached, then send.")
    expect(page.locator(".message")).to_have_count(0)

    # The same sentences in Chinese.
    page.locator("#lang-toggle").click()
    expect(huge.locator(".attachment-detail")).to_have_text("文件超过 10 MB，超出了本聊天允许的大小。")
    expect(tool.locator(".attachment-detail")).to_have_text(
        "不能添加这类文件；可以添加图片、PDF、文本和 Office 文件。"
    )
    page.locator("#lang-toggle").click()

    remove = page.get_by_role("button", name="Remove huge.png")
    remove.click()
    expect(page.get_by_role("button", name="Remove tool.exe")).to_be_focused()  # focus stays in the tray
    page.keyboard.press("Enter")
    expect(page.locator("#attachment-tray")).to_be_hidden()
    expect(page.locator("#composer-input")).to_be_focused()
    expect(status).to_be_hidden()
    expect(page.locator("#send-button")).to_be_enabled()
    assert _uploads(requests_seen) == []


def test_more_files_than_a_message_carries_are_refused(page: Page, requests_seen: RequestLog) -> None:
    files = [_file(f"n{i}.txt", "text/plain", b"x") for i in range(11)]
    page.set_input_files("#attach-input", files)
    expect(_tray(page)).to_have_count(11)
    expect(page.locator("#attachment-tray .attachment[data-status='done']")).to_have_count(10)
    last = _tray(page).nth(10)
    expect(last).to_have_attribute("data-status", "failed")
    expect(last.locator(".attachment-detail")).to_have_text("A message can carry at most 10 files.")
    assert len(_uploads(requests_seen)) == 10


def test_the_servers_refusals_read_like_the_pages_own_checks(page: Page) -> None:
    # 415: a name and type the page takes, bytes the server does not (it sniffs them).
    page.set_input_files("#attach-input", [_file("fake.png", "image/png", b"not a png")])
    item = _tray(page).first
    expect(item).to_have_attribute("data-status", "failed")
    expect(item.locator(".attachment-detail")).to_have_text(WRONG_TYPE)
    page.get_by_role("button", name="Remove fake.png").click()

    # 413: the page is told of a larger limit than the server's, so only the server refuses.
    def larger_limit(route: Route) -> None:
        response = route.fetch()
        config = response.json()
        config["max_attachment_bytes"] = 20 * MB
        route.fulfill(response=response, body=json.dumps(config))

    page.route("**/api/config", larger_limit)
    open_page(page, "/")
    page.set_input_files("#attach-input", [_file("big.png", "image/png", png(8, 8) + bytes(11 * MB))])
    item = _tray(page).first
    expect(item).to_have_attribute("data-status", "failed")
    expect(item.locator(".attachment-detail")).to_have_text(re.compile(r"^The file is larger than 20 MB"))


def test_a_file_removed_before_sending_is_not_sent_and_is_deleted(page: Page) -> None:
    page.set_input_files(
        "#attach-input",
        [
            _file("first.png", "image/png", png(10, 10)),
            _file("second.png", "image/png", png(12, 12)),
        ],
    )
    expect(page.locator("#attachment-tray .attachment[data-status='done']")).to_have_count(2)
    expect(page.locator("#send-button")).to_be_enabled()  # no text, but files ready to go
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.get_by_role("button", name="Remove first.png").click()
    assert deleted.value.status == 204
    assert page.request.get(deleted.value.url).status == 404  # gone from the server too
    expect(page.locator("#live")).to_have_text("first.png removed")
    expect(_tray(page)).to_have_count(1)
    expect(page.get_by_role("button", name="Remove second.png")).to_be_focused()
    ask(page, "only one")
    expect(last_answer(page)).to_contain_text(re.compile(r"You attached 1 file: second\.png \(image/png"))
    expect(last_answer(page)).not_to_contain_text("first.png")
    expect(page.locator(".message.user img")).to_have_attribute("alt", "second.png")
    sent = page.locator(".message.user img").get_attribute("src") or ""
    assert page.request.get(sent).status == 200 and not deleted.value.url.endswith(sent)


def test_each_conversation_keeps_its_own_files(page: Page) -> None:
    ask(page, "a first conversation")
    _answered(page)
    first = page.url
    page.set_input_files("#attach-input", [_file("kept.png", "image/png", png(9, 9))])
    expect(_tray(page)).to_have_attribute("data-status", "done")

    page.locator("#new-chat").click()
    expect(page.locator("#attachment-tray")).to_be_hidden()
    ask(page, "no files here")
    _answered(page)
    expect(last_answer(page)).not_to_contain_text("You attached")
    expect(page.locator(".message.user img")).to_have_count(0)

    page.locator(".conversation-link").nth(1).click()
    expect(page).to_have_url(first)
    expect(_tray(page).locator(".attachment-name")).to_have_text("kept.png")


def test_another_identity_cannot_load_the_image(page: Page, browser: Browser, base_url: str) -> None:
    page.evaluate(PASTE, _png_transfer(page, "private.png", 32, 32))
    expect(_tray(page)).to_have_attribute("data-status", "done")
    ask(page, "mine only")
    _answered(page)
    url = page.locator(".message.user img").get_attribute("src") or ""
    assert page.request.get(url).status == 200

    with own_page(browser, base_url) as stranger:
        assert stranger.request.get(url).status == 404
        loaded = stranger.evaluate(
            """(src) => new Promise((done) => {
                 const img = new Image();
                 img.onload = () => done(img.naturalWidth);
                 img.onerror = () => done(0);
                 img.src = src;
               })""",
            url,
        )
        assert loaded == 0


def test_editing_a_question_keeps_its_files_and_says_so(page: Page) -> None:
    page.set_input_files("#attach-input", [_file("chart.png", "image/png", png(50, 40))])
    expect(_tray(page)).to_have_attribute("data-status", "done")
    page.locator("#send-button").click()  # the picture alone
    _answered(page)
    question = page.locator(".message.user")
    expect(question.locator(".copy-button")).to_be_hidden()  # no text to copy
    question.hover()
    question.locator(".edit-button").click()
    expect(question.locator(".edit-box")).to_be_focused()
    expect(question.locator(".edit-note")).to_have_text("Its attachments stay with the new version.")
    question.locator(".edit-box").fill("what is in it?")
    question.locator(".edit-box").press("Enter")

    _answered(page)
    edited = page.locator(".message.user")
    expect(edited.locator(".versions")).to_have_attribute("aria-label", "Version 2 of 2")
    expect(edited.locator(".user-text")).to_have_text("what is in it?")
    expect(edited.locator("img")).to_have_attribute("alt", "chart.png")
    expect(last_answer(page)).to_contain_text(
        re.compile(r"You attached 1 file: chart\.png \(image/png, .*50×40\)")
    )
    edited.locator(".version-prev").click()
    expect(page.locator(".message.user .user-text")).to_have_count(0)  # the first version: the picture alone
    expect(page.locator(".message.user img")).to_have_attribute("alt", "chart.png")
