"""In Chromium: the chat widget's signed-in users (docs/embed.md), one history on every device; a bad
signature is refused and shows nothing; identify() switches who chats; the widget at phone width, with
reduced motion, and in Chinese. The host pages are on another site than botport (see test_embed.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from browser_helpers import new_context, running_botport
from embed_sites import (
    SECRET,
    Site,
    ask,
    chat,
    events,
    heard,
    host_site,
    launcher,
    open_widget,
    panel,
    user_hash,
)
from playwright.sync_api import Browser, BrowserContext, expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with host_site() as site:
        settings = {
            "embed_origins": site.origin,
            "embed_secrets": json.dumps({site.origin: SECRET}),
            "address_turns_per_minute": "0",
            "address_requests_per_minute": "0",
        }
        with running_botport(tmp_path_factory.mktemp("botport-embed-users"), **settings) as url:
            site.botport = url
            yield site


@pytest.fixture
def devices(browser: Browser, shop: Site) -> Iterator[list[BrowserContext]]:
    """Three browsers of their own (no cookie or storage in common): three devices."""
    contexts = [new_context(browser, shop.botport) for _ in range(3)]
    yield contexts
    for context in contexts:
        context.close()


def test_a_signed_user_sees_the_same_history_on_two_devices(
    devices: list[BrowserContext], shop: Site
) -> None:
    phone, laptop, stranger = devices
    signed = shop.page_url(**{"user-id": "7", "user-hash": user_hash("7")})
    on_phone = open_widget(phone, signed)
    ask(on_phone, "my order number is 1234")

    on_laptop = open_widget(laptop, signed)
    expect(chat(on_laptop).locator(".message.user")).to_contain_text("my order number is 1234")
    ask(on_laptop, "is it shipped?")
    on_phone.reload()
    launcher(on_phone).click()
    expect(chat(on_phone).locator(".message.user")).to_have_count(2)

    # Anyone else, on the same page without the signature, sees none of it.
    anonymous = open_widget(stranger, shop.page_url())
    expect(chat(anonymous).locator("#composer-input")).to_be_visible()
    expect(chat(anonymous).locator(".message")).to_have_count(0)
    # identify(): the page signs its user in, the chat shows that user's history; and out again.
    anonymous.evaluate("hash => botport.identify({userId: '7', userHash: hash})", user_hash("7"))
    expect(chat(anonymous).locator(".message.user")).to_have_count(2)
    anonymous.evaluate("botport.identify(null)")
    expect(chat(anonymous).locator(".message")).to_have_count(0)
    expect(chat(anonymous).locator("#composer-input")).to_be_visible()


def test_a_bad_signature_is_refused_and_shows_nothing(devices: list[BrowserContext], shop: Site) -> None:
    owner, forger, _ = devices
    ask(open_widget(owner, shop.page_url(**{"user-id": "8", "user-hash": user_hash("8")})), "a private note")

    page = forger.new_page()
    with page.expect_response(lambda response: "/session" in response.url) as refused:
        page.goto(shop.page_url(**{"user-id": "8", "user-hash": user_hash("9")}))
    assert refused.value.status == 403
    heard(page, "error")
    (error,) = events(page, "error")
    assert isinstance(error, dict) and error["code"] == "invalid_user_hash"
    launcher(page).click()
    expect(chat(page).locator(".embed-refused")).to_contain_text("does not match")
    expect(chat(page).locator("#composer")).to_be_hidden()
    expect(chat(page).locator(".message.user")).to_have_count(0)
    assert "a private note" not in chat(page).locator("body").inner_text()


def test_at_phone_width_the_panel_takes_the_screen(browser: Browser, shop: Site) -> None:
    context = new_context(
        browser, shop.botport, viewport={"width": 360, "height": 640}, reduced_motion="reduce"
    )
    try:
        page = open_widget(context, shop.page_url())
        box = panel(page).bounding_box()
        assert box is not None and (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 360, 640)
        expect(launcher(page)).to_be_hidden()  # the frame's own close button is the way out
        frame = chat(page)
        for part in ("#embed-title", "#embed-new", "#embed-close", "#composer-input", "#send-button"):
            expect(frame.locator(part)).to_be_in_viewport()
        ask(page, "a question on a small screen with a rather long sentence in it to wrap")
        overflow = frame.locator("html").evaluate("html => html.scrollWidth - html.clientWidth")
        assert overflow <= 0
        # Reduced motion: the panel does not slide.
        assert panel(page).evaluate("el => getComputedStyle(el).transitionDuration") in ("0s", "0s, 0s")
        frame.locator("#embed-new").click()
        expect(frame.locator(".message")).to_have_count(0)  # a new conversation
        frame.locator("#embed-close").click()
        expect(panel(page)).to_be_hidden()
        expect(launcher(page)).to_be_visible()
        expect(launcher(page)).to_be_focused()
    finally:
        context.close()


def test_the_options_language_greeting_corner_and_open_on_load(browser: Browser, shop: Site) -> None:
    context = new_context(browser, shop.botport)
    try:
        page = context.new_page()
        options = {
            "language": "zh",
            "greeting": "你好，有什么可以帮你？",
            "position": "left",
            "open-on-load": "true",
        }
        page.goto(shop.page_url(**options))
        expect(panel(page)).to_be_visible()  # open on load, with no click
        heard(page, "ready")
        box = launcher(page).bounding_box()
        assert box is not None and box["x"] < 100  # the left corner
        expect(launcher(page)).to_have_attribute("aria-label", "关闭聊天")
        frame = chat(page)
        expect(frame.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(frame.locator("#embed-close")).to_have_attribute("aria-label", "关闭聊天")
        expect(frame.locator("#empty-greeting")).to_have_text("你好，有什么可以帮你？")
        motion = panel(page).evaluate("el => getComputedStyle(el).transitionDuration")
        assert motion != "0s"  # without reduced motion, it does slide
    finally:
        context.close()
