"""Shared pieces of the OpenAI edge tests: a recording upstream transport, a started server with its
API key and the official clients, key creation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import openai
from pydantic import SecretStr

from api_keys import new_key
from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOTS
from botport.emulator.faults import Faults
from botport.settings import BotConfig, Settings

TOKEN = "pat_OPENAI_EDGE_TEST_do_not_leak_0123456789"
SLUGS = ("demo", "weather", "slow", "failing")
TIMEOUT = 30.0


@dataclass
class UpstreamCall:
    path: str
    params: dict[str, str]
    body: Any
    method: str = "POST"


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """Forwards to the emulator and keeps every request botport sends upstream."""

    inner: httpx.AsyncBaseTransport
    calls: list[UpstreamCall] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw = await request.aread()
        json_body = request.headers.get("content-type", "").startswith("application/json")
        body = json.loads(raw) if raw and json_body else None  # an upload is multipart: not kept
        self.calls.append(UpstreamCall(request.url.path, dict(request.url.params), body, request.method))
        return await self.inner.handle_async_request(request)

    def chats(self) -> list[UpstreamCall]:
        """The ``POST /v3/chat`` requests: one per new question."""
        return [c for c in self.calls if c.path == "/v3/chat"]

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Server:
    url: str
    key: str
    database_url: str
    recorder: Recorder | None = None

    def client(self, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key=self.key, max_retries=0, timeout=TIMEOUT, **kwargs
        )

    def async_client(self, **kwargs: Any) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{self.url}/v1", api_key=self.key, max_retries=0, timeout=TIMEOUT, **kwargs
        )

    def api(self) -> httpx.Client:
        """botport's own API with the same key: to look at what was stored."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=TIMEOUT
        )


def make_key(settings: Settings) -> str:
    return _make_key(settings.resolved_database_url)


def make_key_on(server: Server) -> str:
    """Another key (another identity) on a running server."""
    return _make_key(server.database_url)


def _make_key(database_url: str) -> str:
    return asyncio.run(new_key(database_url, "openai tests"))


def token_server(tmp_path: Path, live_server: Callable[..., Any], faults: Faults, **settings: Any) -> Server:
    """botport in token mode against an emulator whose bots all have ``faults``, upstream recorded."""
    bots = [replace(bot, faults=faults) for bot in DEMO_BOTS]
    recorder = Recorder(StreamingASGITransport(create_emulator_app(tokens=[TOKEN], bots=bots)))
    config = Settings(
        coze_token=SecretStr(TOKEN),
        coze_base_url="http://coze.test",
        bots=[BotConfig(slug=slug, bot_id=bot.id) for slug, bot in zip(SLUGS, DEMO_BOTS, strict=True)],
        data_dir=tmp_path,
        secret_key=SecretStr("openai-edge-test-secret"),
        **settings,
    )
    key = make_key(config)
    server = live_server(create_app(config, upstream_transport=recorder))
    return Server(server.url, key, config.resolved_database_url, recorder)
