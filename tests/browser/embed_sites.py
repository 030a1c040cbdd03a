"""Host sites for the chat widget's browser tests: tiny pages on ``http://localhost:PORT`` (another site
than botport's ``http://127.0.0.1:PORT``) that put botport's ``embed.js`` on a page, with a strict
Content-Security-Policy of their own: only what docs/embed.md says a host page needs for botport."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from browser_helpers import DEFAULT_TIMEOUT_MS
from playwright.sync_api import BrowserContext, FrameLocator, Locator, Page, expect

SECRET = "the-shop-servers-secret-0123456789"
NONCE = "test-nonce-0123"

# The host page records the widget's events (window.events) with a script of its own (CSP nonce).
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>The shop</h1><button id="host-button" type="button">A button of the shop</button>
<script nonce="{nonce}">
window.events = [];
addEventListener("botport:load", () => {{
  for (const name of ["ready", "open", "close", "message", "error"]) {{
    botport.on(name, (detail) => window.events.push([name, detail ?? null]));
  }}
}});
</script>
{widget}
</body></html>"""

FRAME_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Framing</title></head>
<body><iframe id="framed" title="framed" src="{src}" width="400" height="500"></iframe></body></html>"""


def user_hash(user_id: str, secret: str = SECRET) -> str:
    """What the shop's server computes for a signed-in user (docs/embed.md)."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@dataclass
class Site:
    """A host site; its pages embed the widget of the botport at ``botport``."""

    origin: str
    botport: str = ""

    def page_url(self, **attributes: str) -> str:
        """The URL of a page with ``<script src=.../embed.js data-*=...>`` (``bot="demo"`` unless given)."""
        return f"{self.origin}/?{urlencode({'botport': self.botport, 'attrs': json.dumps(attributes)})}"

    def frame_url(self, src: str) -> str:
        """A page that frames ``src`` itself, in a plain iframe."""
        return f"{self.origin}/frame?{urlencode({'src': src})}"


def _render(query: dict[str, list[str]]) -> tuple[str, str]:
    botport = query.get("botport", [""])[0]
    attributes = {"bot": "demo"} | json.loads(query.get("attrs", ["{}"])[0])
    data = " ".join(f'data-{name}="{html.escape(value)}"' for name, value in attributes.items())
    widget = f'<script src="{html.escape(botport)}/embed.js" {data} async></script>'
    csp = (
        f"default-src 'self'; script-src 'self' 'nonce-{NONCE}' {botport}; connect-src {botport}; "
        f"frame-src {botport}; style-src 'self'; img-src 'self'"
    )
    return PAGE.format(nonce=NONCE, widget=widget), csp


@contextmanager
def host_site() -> Iterator[Site]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/frame":
                body = FRAME_PAGE.format(src=html.escape(query["src"][0]))
                csp = "default-src 'self'; frame-src *"
            elif url.path == "/":
                body, csp = _render(query)
            else:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://localhost:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


def launcher(page: Page) -> Locator:
    return page.locator("[data-botport-widget] button.launcher")


def panel(page: Page) -> Locator:
    return page.locator("[data-botport-widget] .panel")


def chat(page: Page) -> FrameLocator:
    return page.frame_locator("[data-botport-widget] iframe")


def open_widget(context: BrowserContext, url: str) -> Page:
    """The host page at ``url``, its widget opened and ready."""
    page = context.new_page()
    page.goto(url)
    expect(launcher(page)).to_be_visible()
    launcher(page).click()
    expect(panel(page)).to_be_visible()
    heard(page, "ready")
    return page


def ask(page: Page, question: str) -> None:
    """Ask in the widget and wait for the demo bot's whole answer."""
    answers = chat(page).locator(".message.assistant")
    before = answers.count()
    box = chat(page).locator("#composer-input")
    # Clicked first, as a visitor does: Playwright's fill types through the page's keyboard, which reaches
    # a cross-site frame only once that frame has the focus (a script's focus() inside it may not give it).
    box.click()
    box.fill(question)
    expect(box).to_have_value(question)
    # Enabled once no answer runs here (one just stored may still be read to its end when it opens).
    expect(chat(page).locator("#send-button")).to_be_enabled()
    box.press("Enter")
    expect(answers).to_have_count(before + 1)
    expect(answers.last).to_have_attribute("data-status", "completed")


def until(page: Page, expression: str, timeout: float = DEFAULT_TIMEOUT_MS / 1000) -> None:
    """Wait until ``expression`` is true in the host page (polled from here: the host page's CSP
    forbids the eval that ``page.wait_for_function`` polls with)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        seen = page.evaluate("() => JSON.stringify(window.events ?? null)")
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression} (events: {seen})"
        time.sleep(0.05)


def heard(page: Page, name: str) -> None:
    """Wait until the widget told the host page ``name`` (ready, message, error...)."""
    until(page, f"window.events.some(([kind]) => kind === {json.dumps(name)})")


def events(page: Page, name: str) -> list[object]:
    return [detail for kind, detail in page.evaluate("window.events") if kind == name]
