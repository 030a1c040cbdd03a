"""Shared pieces of the MCP tests: botport on a real uvicorn server (token mode, the emulator's scripted
bots behind a transport that records what goes to Coze), API keys, the MCP SDK's own client over
Streamable HTTP, and ``botport mcp`` launched as a subprocess for stdio."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from api_keys import new_key
from botport.emulator.bots import DEMO_BOT_ID, FAILING_BOT_ID, SLOW_BOT_ID, TOOL_BOT_ID, EmulatedBot
from botport.emulator.faults import Faults
from botport.emulator.scripts import demo_script, failing_script, weather_script
from botport.settings import BotConfig, Settings

TOKEN = "pat_MCPTESTSECRET_do_not_leak_0123456789ab"
TIMEOUT = 30.0
# The slow bot streams a plain question in about two seconds (so progress arrives more than once);
# "/slow ..." takes 0.3 s a word, long enough to be cancelled mid-answer.
SLOW = Faults(delta_delay=0.03)

# slug -> (Coze bot id, name, description, script)
BOTS = {
    "demo": (DEMO_BOT_ID, "Demo", "Answers in markdown and remembers the conversation.", demo_script),
    "weather": (TOOL_BOT_ID, "Weather", "Calls a get_weather tool that the client must run.", weather_script),
    "slow": (SLOW_BOT_ID, "Slow demo", "Streams slowly.", demo_script),
    "failing": (FAILING_BOT_ID, "Failing demo", "Starts to answer, then fails.", failing_script),
}


def emulated_bots() -> list[EmulatedBot]:
    return [
        EmulatedBot(
            id=bot_id,
            name=name,
            description=description,
            greeting="",
            script=script,
            faults=SLOW if slug == "slow" else Faults(),
        )
        for slug, (bot_id, name, description, script) in BOTS.items()
    ]


def token_settings(data_dir: Path) -> Settings:
    bots = [
        BotConfig(slug=slug, bot_id=bot_id, name=name, description=description)
        for slug, (bot_id, name, description, _) in BOTS.items()
    ]
    return Settings(
        coze_token=SecretStr(TOKEN),
        coze_base_url="http://coze.test",
        bots=bots,
        data_dir=data_dir,
        secret_key=SecretStr("a-test-secret-key-for-mcp"),
    )


@dataclass
class Upstream(httpx.AsyncBaseTransport):
    """Forwards to the emulator and keeps the path of every request botport sends to Coze."""

    inner: httpx.AsyncBaseTransport
    paths: list[str] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class McpServer:
    """botport on a live uvicorn server, with an API key and what went to Coze."""

    url: str
    key: str
    settings: Settings
    upstream: Upstream

    @property
    def endpoint(self) -> str:
        return f"{self.url}/mcp"

    async def other_key(self) -> str:
        return await new_key(self.settings.resolved_database_url, "another client")

    def rest(self, key: str | None = None) -> httpx.AsyncClient:
        """botport's REST API with the same key: to see what the MCP calls stored."""
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=TIMEOUT)


@asynccontextmanager
async def connect(
    server: McpServer, *, key: str | None = None, mode: str = "auto", statuses: list[int] | None = None
) -> AsyncIterator[Client]:
    """The SDK's client on ``/mcp`` with an API key: ``auto`` speaks the current protocol (2026-07-28),
    ``legacy`` the 2025 handshake most clients in the field still use. ``statuses``: gets the HTTP
    status of every response."""
    headers = {"Authorization": f"Bearer {key or server.key}"}

    async def seen(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    hooks = {"response": [seen]}
    async with httpx2.AsyncClient(
        headers=headers, timeout=httpx2.Timeout(TIMEOUT), event_hooks=hooks
    ) as http:
        transport = streamable_http_client(server.endpoint, http_client=http)
        async with Client(transport, mode=mode, read_timeout_seconds=TIMEOUT) as client:
            yield client


def botport_mcp(*args: str, data_dir: Path, **env: str) -> StdioServerParameters:
    """``botport mcp ARGS`` as an MCP client launches it: a subprocess with a clean BOTPORT_* environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BOTPORT_")}
    clean.update({"BOTPORT_DATA_DIR": str(data_dir), **env})
    return StdioServerParameters(command=sys.executable, args=["-m", "botport.cli", "mcp", *args], env=clean)


async def messages(server: McpServer, conversation_id: str, key: str | None = None) -> list[dict[str, Any]]:
    async with server.rest(key) as rest:
        response = await rest.get(f"/api/conversations/{conversation_id}/messages")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def latest_conversation(server: McpServer, key: str | None = None) -> str:
    async with server.rest(key) as rest:
        response = await rest.get("/api/conversations", params={"limit": 1})
    assert response.status_code == 200, response.text
    return str(response.json()["items"][0]["id"])


async def stored_answer(server: McpServer, conversation_id: str, *, ended: bool = True) -> dict[str, Any]:
    """The conversation's last answer, once it is no longer being written (a stopped turn stores its
    end a moment after the call is gone)."""
    deadline = time.monotonic() + 10
    while True:
        answer = (await messages(server, conversation_id))[-1]
        if not ended or answer["status"] != "streaming" or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.1)
