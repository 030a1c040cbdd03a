"""Take the README screenshots: desktop (1280x800) and phone (390x844), light and dark.

Run: ``python tests/browser/screenshots.py`` (starts its own ``botport serve`` in demo mode; writes
``docs/screenshots/*.png``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_helpers import launch_chromium, running_botport

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def ask(page: Page, question: str) -> None:
    page.locator("#composer-input").fill(question)
    page.locator("#composer-input").press("Enter")
    expect(page.locator(".message.assistant").last).to_have_attribute(
        "data-status", "completed", timeout=60_000
    )


def ready(page: Page, path: str) -> None:
    page.goto(path)
    page.wait_for_selector("html[data-ready='true']")


def fill_history(context: BrowserContext) -> str:
    """A few conversations, the last one with markdown, code, a table and follow-ups; returns its path."""
    page = context.new_page()
    ready(page, "/")
    for question in ("杭州三日游怎么安排？", "Summarise this week's release notes"):
        page.locator("#new-chat").click()
        ask(page, question)
    page.locator("#new-chat").click()
    ask(page, "/long How does streaming work?")
    page.locator(".follow-ups .chip").first.click()  # "What did I ask before?"
    expect(page.locator(".message.assistant")).to_have_count(2)
    expect(page.locator(".message.assistant").last).to_have_attribute(
        "data-status", "completed", timeout=60_000
    )
    conversation_id = page.url.rsplit("/", 1)[1]
    page.request.patch(f"/api/conversations/{conversation_id}", data={"title": "How streaming works"})
    page.close()
    return f"/c/{conversation_id}"


def shoot(context: BrowserContext, path: str, name: str) -> None:
    page = context.new_page()
    ready(page, path)
    page.wait_for_timeout(300)  # let the entry animation finish
    page.locator("#thread").evaluate("el => { el.style.scrollBehavior = 'auto'; el.scrollTop = 1e9; }")
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"))
    page.close()


def shoot_features(context: BrowserContext) -> None:
    """Branches (an edited question, ‹ 2/2 ›), search over old answers, and math as MathML."""
    page = context.new_page()
    ready(page, "/")
    page.locator("#new-chat").click()
    ask(page, "Plan a weekend in Lisbon")
    ask(page, "Make it cheaper")
    question = page.locator(".message.user").nth(1)
    question.hover()
    question.locator(".edit-button").click()
    question.locator(".edit-box").fill("Make it cheaper, and by train")
    question.locator(".edit-box").press("Enter")
    versions = page.locator(".message.user").nth(1).locator(".version-label")
    expect(versions).to_have_text("2/2", timeout=60_000)
    answer = page.locator(".message.assistant").last
    expect(answer).to_have_attribute("data-status", "completed", timeout=60_000)
    page.mouse.move(900, 200)
    page.locator(".message.user").nth(1).hover()
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUT / "branches-light.png"))

    page.locator("#conversation-search").fill("streaming")
    expect(page.locator("#search-results li").first).to_be_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUT / "search-light.png"))
    page.locator("#conversation-search").fill("")

    page.emulate_media(color_scheme="dark")
    page.locator("#new-chat").click()
    ask(page, "/math the quadratic formula, please")
    expect(page.locator(".message.assistant math").first).to_be_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUT / "math-dark.png"))
    page.close()


def main() -> None:
    with (
        tempfile.TemporaryDirectory() as data,
        running_botport(Path(data)) as base_url,
        sync_playwright() as p,
    ):
        browser = launch_chromium(p)
        first = browser.new_context(base_url=base_url, viewport=DESKTOP, locale="en-US")
        path = fill_history(first)
        state = first.storage_state()  # the same identity (cookie) for every shot
        first.close()
        for scheme in ("light", "dark"):
            for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
                context = browser.new_context(
                    base_url=base_url,
                    viewport=viewport,
                    color_scheme=scheme,  # type: ignore[arg-type]
                    locale="en-US",
                    storage_state=state,
                    device_scale_factor=1,
                    has_touch=name == "phone",
                )
                shoot(context, path, f"{name}-{scheme}")
                context.close()
        features = browser.new_context(
            base_url=base_url, viewport=DESKTOP, locale="en-US", storage_state=state, device_scale_factor=1
        )
        shoot_features(features)
        features.close()
        browser.close()
    print(f"screenshots written to {OUT}")


if __name__ == "__main__":
    main()
