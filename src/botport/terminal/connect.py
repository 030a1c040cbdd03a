"""Where the terminal talks to: a running botport (URL + API key), or the app built from the same
settings as ``botport serve`` and served inside this process.

In-process, the terminal is one fixed local identity: a browser-style identity ``terminal`` in a
cookie signed with the server's own secret. No API key is created per session, conversations
persist in the data directory across runs (``--conversation ID`` works), and nobody without the
server's secret can act as it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from botport import __version__
from botport.settings import Settings
from botport.terminal.client import BotportClient

LOCAL_IDENTITY = "terminal"
_IN_PROCESS_URL = "http://botport.local"


@dataclass(frozen=True, slots=True)
class Connection:
    client: BotportClient
    where: str  # for the banner: the URL, or "in-process"
    demo_mode: bool


def _timeout(read: float) -> httpx.Timeout:
    # The read timeout bounds the silence inside a stream; botport pings every 15 s.
    return httpx.Timeout(connect=10.0, read=read, write=10.0, pool=10.0)


@asynccontextmanager
async def connect_remote(url: str, api_key: str, *, read_timeout: float = 120.0) -> AsyncIterator[Connection]:
    headers = {"Authorization": f"Bearer {api_key}", "User-Agent": f"botport-chat/{__version__}"}
    async with httpx.AsyncClient(
        base_url=url.rstrip("/"), headers=headers, timeout=_timeout(read_timeout)
    ) as http:
        client = BotportClient(http)
        config = await client.config()
        yield Connection(client=client, where=url, demo_mode=bool(config.get("demo_mode")))


@asynccontextmanager
async def connect_in_process(settings: Settings) -> AsyncIterator[Connection]:
    """Build the app, run its lifespan (database, upstream client or emulator), serve it in-process."""
    from botport.api.web_access import OPERATOR
    from botport.app import create_app
    from botport.asgi_transport import StreamingASGITransport
    from botport.identity import IdentitySigner, cookie_name, load_or_create_secret

    app = create_app(settings)
    # The same key create_app signs cookies with (it has just created the file if it was missing).
    secret = (
        settings.secret_key.get_secret_value().encode()
        if settings.secret_key
        else load_or_create_secret(settings.data_dir)
    )
    cookie = IdentitySigner(secret).sign(LOCAL_IDENTITY)
    async with app.router.lifespan_context(app):
        transport = StreamingASGITransport(app, extensions={OPERATOR: True})
        try:
            async with httpx.AsyncClient(
                transport=transport,
                base_url=_IN_PROCESS_URL,
                cookies={cookie_name(https=settings.https_site): cookie},
                headers={"User-Agent": f"botport-chat/{__version__}"},
                timeout=_timeout(settings.read_timeout + 30),
            ) as http:
                yield Connection(client=BotportClient(http), where="in-process", demo_mode=settings.demo_mode)
        finally:
            await transport.aclose()
