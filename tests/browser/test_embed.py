"""In Chromium: botport's chat widget on a page of another site (docs/embed.md). The host pages are on
``http://localhost:PORT``, botport on ``http://127.0.0.1:PORT``: another site, so the widget's iframe
is a third-party frame, which gets no cookie of botport's (SameSite, and third-party cookies blocked:
Chromium's own setting, and the iframe's probe shows it). Its identity is the token it sends as a header;
the next visit finds it again through the partitioned (CHIPS) cookie."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_helpers import assert_no_serious_violations, needs_axe
from browser_helpers import CHROMIUM, CHROMIUM_ARGS, DEFAULT_TIMEOUT_MS, new_context, running_botport
from embed_sites import SECRET, Site, ask, chat, events, heard, host_site, launcher, panel, until
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, expect

from image_files import png

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shop() -> Iterator[Site]:
    with host_site() as site:
        yield site


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Site]:
    """A site that is not in the bots' embed_origins."""
    with host_site() as site:
        yield site


@pytest.fixture(scope="module")
def widget_botport(shop: Site, elsewhere: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = {
        "embed_origins": shop.origin,  # demo mode: the demo bots may be embedded by the shop
        "embed_secrets": json.dumps({shop.origin: SECRET}),
        "address_turns_per_minute": "0",  # every test's browser is on 127.0.0.1
        "address_requests_per_minute": "0",
    }
    with running_botport(tmp_path_factory.mktemp("botport-embed"), **settings) as url:
        shop.botport = elsewhere.botport = url
        yield url


@pytest.fixture
def blocking(playwright: Playwright, tmp_path: Path, widget_botport: str) -> Iterator[BrowserContext]:
    """A browser profile whose settings block third-party cookies (Chromium's cookie_controls_mode 1:
    what "Block third-party cookies" in its settings sets)."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    preferences = {"profile": {"cookie_controls_mode": 1, "block_third_party_cookies": True}}
    (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 800},
        locale="en-US",
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def visitor(browser: Browser, widget_botport: str) -> Iterator[BrowserContext]:
    context = new_context(browser, widget_botport)
    yield context
    context.close()


def _third_party_cookies_work(page: Page, botport: str) -> bool:
    frame = next(f for f in page.frames if f.url.startswith(botport))
    return bool(
        frame.evaluate(
            """() => { document.cookie = "probe=1; SameSite=None; Secure; Path=/";
                       return document.cookie.includes("probe=1"); }"""
        )
    )


def test_the_widget_chats_on_another_site_and_a_reload_keeps_the_conversation(
    blocking: BrowserContext, shop: Site, widget_botport: str
) -> None:
    url = shop.page_url(colour="#0a7d55", title="Shop help")
    page = blocking.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The host page's strict CSP (embed_sites.py: no inline style, only botport's origin added) refuses
    # nothing the widget does.
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(url)
    button = launcher(page)
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-label", "Open the chat")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_have_css("background-color", "rgb(10, 125, 85)")  # data-colour
    expect(panel(page)).to_be_hidden()

    button.click()
    expect(panel(page)).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    heard(page, "ready")
    assert not _third_party_cookies_work(page, widget_botport)  # this browser blocks them
    expect(chat(page).locator("#embed-title")).to_have_text("Shop help")
    expect(chat(page).locator(".sidebar")).to_be_hidden()  # the compact layout
    expect(chat(page).locator(".demo-banner")).to_be_visible()

    ask(page, "hello from the shop")
    expect(chat(page).locator(".message.assistant").last).to_contain_text("hello from the shop")
    heard(page, "message")
    (message,) = events(page, "message")
    assert isinstance(message, dict) and "hello from the shop" in message["text"]
    assert not [c for c in blocking.cookies() if c["name"].endswith("botport_id")]  # no cookie of botport's

    page.reload()
    launcher(page).click()
    expect(chat(page).locator(".message.user")).to_have_count(1)
    expect(chat(page).locator(".message.user")).to_contain_text("hello from the shop")
    ask(page, "and a second question")
    expect(chat(page).locator(".message.user")).to_have_count(2)  # the same conversation goes on
    assert errors == []


def test_a_site_not_allowed_gets_nothing_drawn_and_no_frame(
    visitor: BrowserContext, shop: Site, elsewhere: Site, widget_botport: str
) -> None:
    page = visitor.new_page()
    warnings: list[ConsoleMessage] = []
    page.on("console", lambda message: warnings.append(message) if message.type == "warning" else None)
    with page.expect_response(lambda response: "/embed/demo/config" in response.url) as refused:
        page.goto(elsewhere.page_url())
    assert refused.value.status == 403
    heard(page, "error")
    assert page.locator("[data-botport-widget]").count() == 0
    botport_warnings = [w.text for w in warnings if w.text.startswith("botport:")]
    assert len(botport_warnings) == 1
    assert "embed_origins" in botport_warnings[0] and elsewhere.origin in botport_warnings[0]

    # The page itself, framed by hand by a site not allowed (even one claiming to be the shop): blocked.
    framed = f"{widget_botport}/embed/demo?parent={shop.origin}"
    with page.expect_response(lambda response: "/embed/demo?" in response.url) as answered:
        page.goto(elsewhere.frame_url(framed))
    assert answered.value.headers["content-security-policy"].count(f"frame-ancestors {shop.origin};") == 1
    page.wait_for_load_state("load")  # the frames' too
    handle = page.locator("#framed").element_handle()
    blocked = handle.content_frame() if handle else None
    assert blocked is not None and blocked.url == "chrome-error://chromewebdata/"  # Chromium's refusal page
    expect(page.frame_locator("#framed").locator("#composer-input")).to_have_count(0)
    # The same iframe on the shop's own page renders: the test can see a frame that does.
    page.goto(shop.frame_url(framed))
    expect(page.frame_locator("#framed").locator("#composer-input")).to_be_visible()


def test_the_javascript_api_and_the_keyboard(visitor: BrowserContext, shop: Site) -> None:
    page = visitor.new_page()
    page.goto(shop.page_url())
    heard(page, "ready")
    page.evaluate("botport.open()")
    expect(panel(page)).to_be_visible()
    page.evaluate("botport.close()")
    expect(panel(page)).to_be_hidden()
    page.evaluate("botport.toggle()")
    expect(panel(page)).to_be_visible()
    page.evaluate("botport.toggle()")
    expect(panel(page)).to_be_hidden()
    assert [kind for kind, _ in page.evaluate("window.events") if kind in ("open", "close")] == [
        "open",
        "close",
        "open",
        "close",
    ]

    # send(): the panel opens, the question goes, on('message') hears the answer.
    assert page.evaluate("botport.send('a question from the host page')") is True
    assert page.evaluate("botport.send('   ')") is False
    expect(panel(page)).to_be_visible()
    heard(page, "message")
    (message,) = events(page, "message")
    assert isinstance(message, dict) and "a question from the host page" in message["text"]
    expect(chat(page).locator(".message.user")).to_contain_text("a question from the host page")

    # Keyboard: Escape in the chat closes it and focus goes back to the launcher; Enter opens it again.
    chat(page).locator("#composer-input").focus()
    chat(page).locator("#composer-input").press("Escape")
    expect(panel(page)).to_be_hidden()
    expect(launcher(page)).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel(page)).to_be_visible()
    chat(page).locator("#embed-close").click()
    expect(panel(page)).to_be_hidden()
    expect(launcher(page)).to_be_focused()
    # Escape on the host side too.
    launcher(page).press("Enter")
    expect(panel(page)).to_be_visible()
    launcher(page).press("Escape")
    expect(panel(page)).to_be_hidden()
    # A listener added after "ready" still hears it.
    page.evaluate("botport.on('ready', () => { window.lateReady = true; })")
    until(page, "window.lateReady === true")


def test_opened_as_soon_as_it_shows_the_chat_takes_the_keys(
    browser: Browser, shop: Site, widget_botport: str
) -> None:
    """The launcher clicked as soon as it shows, while the frame still loads: what the visitor then types
    (the real keyboard, no click in the box) lands in the message box. Chromium loses those keys for a
    frame focused at the wrong moment of its load (most tries, not all: three fresh visitors)."""
    for attempt in range(3):
        context = new_context(browser, widget_botport)
        try:
            page = context.new_page()
            page.goto(shop.page_url())
            launcher(page).click()
            heard(page, "ready")
            page.wait_for_timeout(500)  # a person reads the greeting; the lost focus shows by then
            page.keyboard.type(f"typed at once {attempt}")
            expect(chat(page).locator("#composer-input")).to_have_value(f"typed at once {attempt}")
        finally:
            context.close()


def test_files_in_the_widget_reach_the_bot_and_show_to_their_owner(
    visitor: BrowserContext, shop: Site, widget_botport: str
) -> None:
    """The frame's identity is a header, which neither an <img> nor a link can send: it shows the files it
    fetched itself (blob: URLs, which its CSP allows and only its own script can make)."""
    page = visitor.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(shop.page_url())
    launcher(page).click()
    heard(page, "ready")
    frame = chat(page)
    expect(frame.locator("#attach-button")).to_be_visible()
    frame.locator("#attach-input").set_input_files(
        [
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello, bot"},
            {"name": "dot.png", "mimeType": "image/png", "buffer": png(30, 20)},
        ]
    )
    expect(frame.locator("#attachment-tray .attachment[data-status=done]")).to_have_count(2)
    ask(page, "two things")
    expect(frame.locator(".message.assistant").last).to_contain_text(
        re.compile(
            r"You attached 2 files: notes\.txt \(text/plain.*dot\.png \(image/png, [\d.]+ \w?B, 30×20\)"
        )
    )

    def image_shown() -> None:
        image = frame.locator(".message.user .message-attachments img")
        expect(image).to_have_attribute("src", re.compile(r"^blob:"))
        expect(image).to_have_js_property("naturalWidth", 30)  # decoded: real pixels
        expect(frame.locator(".message.user a.attachment-image")).to_have_attribute("download", "dot.png")

    image_shown()
    chip = frame.locator(".message.user a.file-chip")
    with page.expect_download() as download:
        chip.click()
    assert download.value.suggested_filename == "notes.txt"
    assert Path(download.value.path()).read_bytes() == b"hello, bot"
    # Again (its blob: URL held now), and the image: each click saves the bytes.
    with page.expect_download() as download:
        chip.click()
    assert Path(download.value.path()).read_bytes() == b"hello, bot"
    with page.expect_download() as download:
        frame.locator(".message.user a.attachment-image").click()
    assert download.value.suggested_filename == "dot.png"
    assert Path(download.value.path()).read_bytes() == png(30, 20)

    page.reload()  # the history: the same, through the frame's own fetches
    launcher(page).click()
    image_shown()
    # The file's own URL, without the frame's header: this browser has no identity of botport's for it.
    href = frame.locator(".message.user a.file-chip").get_attribute("href") or ""
    assert href.startswith("/api/files/")
    assert visitor.request.get(f"{widget_botport}{href}").status in (401, 403, 404)
    assert errors == []


@needs_axe
def test_the_button_the_panel_and_the_chat_have_no_serious_violation(
    visitor: BrowserContext, shop: Site, widget_botport: str
) -> None:
    page = visitor.new_page()
    page.goto(shop.page_url(colour="#ffd700"))  # a light accent: the icon turns dark to stay readable
    expect(launcher(page)).to_be_visible()
    assert launcher(page).evaluate("el => getComputedStyle(el).color") == "rgb(17, 18, 24)"
    assert_no_serious_violations(page)
    launcher(page).click()
    heard(page, "ready")
    ask(page, "is everything readable?")
    assert_no_serious_violations(page)
    frame = next(f for f in page.frames if f.url.startswith(widget_botport))
    assert_no_serious_violations(frame)  # type: ignore[arg-type]  # a Frame evaluates as a Page does
