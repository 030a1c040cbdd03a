"""Richer markdown in the page: MathML, task lists, footnotes and bare URLs, all rendered on the server
(``/math`` makes the demo bot answer with each), and hostile LaTeX that must stay inert."""

from __future__ import annotations

import os

import pytest
from browser_helpers import ask, last_answer
from playwright.sync_api import Dialog, Page, expect

pytestmark = pytest.mark.browser

SCREENSHOT = os.environ.get("BOTPORT_MATH_SCREENSHOT", "")  # e.g. /tmp/math-light.png, for the docs


def test_math_task_list_footnote_and_bare_url_render(page: Page) -> None:
    page.emulate_media(color_scheme="light")
    ask(page, "/math show me")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "completed")
    markdown = answer.locator(".markdown")
    expect(markdown.locator("math")).to_have_count(3)
    display = markdown.locator(".math-display math")
    expect(display).to_have_attribute("display", "block")
    expect(display.locator("mfrac")).to_have_count(1)
    box = display.bounding_box()  # Chromium lays MathML out: a fraction stands taller than a line of text
    assert box is not None and box["height"] > 30
    expect(markdown).to_contain_text("A price like $5 and $10 stays text.")

    boxes = markdown.locator("ul.contains-task-list input[type=checkbox]")
    expect(boxes).to_have_count(2)
    expect(boxes.first).to_be_checked()
    expect(boxes.first).to_be_disabled()
    expect(boxes.last).not_to_be_checked()

    link = markdown.locator("a[href='https://en.wikipedia.org/wiki/Quadratic_formula']")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")

    ref = markdown.locator("sup.footnote-ref a")
    href = ref.get_attribute("href") or ""
    assert href.startswith("#fn-")
    expect(ref).not_to_have_attribute("target", "_blank")  # stays on the page
    expect(markdown.locator(f"li{href}")).to_contain_text("Leonhard Euler")
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT)


def test_hostile_latex_stays_inert(page: Page) -> None:
    dialogs: list[Dialog] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog), dialog.dismiss()))
    ask(
        page,
        r"$\text{<img src=x onerror=alert(1)>}$ $\href{javascript:alert(2)}{click}$ "
        r"$\style{background:red}{x}$ $\frac{$",
    )
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "completed")
    markdown = answer.locator(".markdown")
    expect(markdown.locator("math")).to_have_count(3)  # \text's HTML is gone; \href and \style are plain
    expect(markdown.locator("code.math-error")).to_have_text("\\frac{")
    expect(markdown.locator("img")).to_have_count(0)
    expect(markdown.locator("[href^='javascript' i], [style], [onerror]")).to_have_count(0)
    markdown.locator("math").nth(1).click()  # \href{javascript:...} lost its link
    page.wait_for_timeout(200)
    assert dialogs == []
