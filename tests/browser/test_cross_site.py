"""In Chromium: a page on another port of the same host (same-site, another origin) cannot act with
the visitor's cookie. Before the cross-site guard, its plain ``fetch`` stopped the visitor's running
answer; the browser sends the cookie (SameSite=Lax lets same-site requests carry it), so only the
server can refuse. Nor can it plant its own identity cookie beside the visitor's (cookie tossing):
cookies are not kept apart by port, and one at ``Path=/api`` came first, so the visitor chatted as
the attacker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from browser_helpers import new_context, open_page
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.browser

ATTACK = """<!doctype html><title>cute cats</title><script>
fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include"}})
  .finally(() => {{ document.title = "sent"; }});
</script>"""


TOSS = """<!doctype html><title>cute dogs</title><script>
document.cookie = "botport_id={cookie}; Path=/api; Max-Age=3600";
document.title = "tossed";
</script>"""


@pytest.fixture
def attacker() -> Iterator[tuple[str, list[str]]]:
    """A page on another port of 127.0.0.1 that POSTs to the URL in its ?target= parameter."""
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/toss?cookie="):
                body = TOSS.format(cookie=self.path.partition("=")[2]).encode()
            else:
                target = self.path.partition("?target=")[2]
                served.append(target)
                body = ATTACK.format(target=target).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()


def _answer_status(context: BrowserContext, base_url: str, conversation_id: str) -> str:
    items = context.request.get(f"{base_url}/api/conversations/{conversation_id}/messages").json()["items"]
    answers = [m for m in items if m["role"] == "assistant"]
    return str(answers[-1]["status"]) if answers else "none"


def test_a_page_on_another_port_cannot_stop_the_visitors_answer(
    page: Page, context: BrowserContext, base_url: str, attacker: tuple[str, list[str]]
) -> None:
    created = page.evaluate(
        """async () => (await (await fetch('/api/conversations', {method: 'POST',
             headers: {'content-type': 'application/json'},
             body: JSON.stringify({bot: 'slow'})})).json()).id"""
    )
    # The visitor's long answer, started from botport's own page (same origin: allowed).
    page.evaluate(
        """id => { fetch(`/api/conversations/${id}/messages`, {method: 'POST',
             headers: {'content-type': 'application/json'},
             body: JSON.stringify({content: '/slow tell me a long story', stream: true})}); }""",
        created,
    )
    page.wait_for_function(
        """async id => { const r = await fetch(`/api/conversations/${id}/messages`);
             const items = (await r.json()).items; return items.some(m => m.status === 'streaming'); }""",
        arg=created,
    )
    origin, served = attacker
    evil = context.new_page()
    evil.goto(f"{origin}/?target={base_url}/api/conversations/{created}/cancel")
    evil.wait_for_function("document.title === 'sent'")
    assert served, "the attacker's page was not loaded"
    assert _answer_status(context, base_url, created) == "streaming"  # the answer runs on
    # botport's own page still can.
    stopped = page.evaluate(
        "async id => (await fetch(`/api/conversations/${id}/cancel`, {method: 'POST'})).status", created
    )
    assert stopped in (200, 202, 204)


def _titles(page: Page) -> list[str]:
    return page.locator(".conversation .conversation-title").all_inner_texts()


def _chat(page: Page, text: str) -> None:
    page.locator("#new-chat").click()
    page.locator("#composer-input").fill(text)
    page.locator("#composer-input").press("Enter")
    expect(page.locator(".message.assistant").last).to_have_attribute("data-status", "completed")


def test_a_page_on_another_port_cannot_make_the_visitor_chat_as_someone_else(
    page: Page, browser: Browser, base_url: str, attacker: tuple[str, list[str]]
) -> None:
    # The attacker gets an identity of its own from botport, with a bait conversation in it.
    attacker_context = new_context(browser, base_url)
    bait = attacker_context.request.post(f"{base_url}/api/conversations", data={"title": "attacker's bait"})
    assert bait.ok
    (planted,) = [c["value"] for c in attacker_context.cookies() if c["name"] == "botport_id"]

    _chat(page, "the visitor's own question")
    expect(page.locator(".conversation")).to_have_count(1)
    own = _titles(page)

    origin, _ = attacker
    evil = page.context.new_page()
    evil.goto(f"{origin}/toss?cookie={planted}")
    evil.wait_for_function("document.title === 'tossed'")
    assert len([c for c in page.context.cookies() if c["name"] == "botport_id"]) == 2  # it was planted

    open_page(page, "/")  # the visitor comes back: its own conversations, never the attacker's
    expect(page.locator(".conversation")).to_have_count(1)
    assert _titles(page) == own
    _chat(page, "a second question")
    expect(page.locator(".conversation")).to_have_count(2)
    assert "attacker's bait" not in _titles(page)
    (kept,) = [c for c in page.context.cookies() if c["name"] == "botport_id"]  # the planted one is gone
    assert kept["path"] == "/" and kept["value"] != planted
    # Nothing of the visitor's went to the attacker's identity.
    listed = attacker_context.request.get(f"{base_url}/api/conversations").json()["items"]
    assert [c["title"] for c in listed] == ["attacker's bait"]
    attacker_context.close()
