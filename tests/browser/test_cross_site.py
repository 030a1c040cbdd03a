"""In Chromium: a page on another port of the same host (same-site, another origin) cannot act with
the visitor's cookie. Before the cross-site guard, its plain ``fetch`` stopped the visitor's running
answer; the browser sends the cookie (SameSite=Lax lets same-site requests carry it), so only the
server can refuse."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.browser

ATTACK = """<!doctype html><title>cute cats</title><script>
fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include"}})
  .finally(() => {{ document.title = "sent"; }});
</script>"""


@pytest.fixture
def attacker() -> Iterator[tuple[str, list[str]]]:
    """A page on another port of 127.0.0.1 that POSTs to the URL in its ?target= parameter."""
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
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
