"""Fixtures of the MCP tests: botport on a real uvicorn server with an API key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp_helpers import TOKEN, McpServer, Upstream, emulated_bots, new_key, token_settings

from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport
from botport.emulator.app import create_emulator_app


@pytest.fixture
def mcp_server(tmp_path: Path, live_server: Callable[..., Any]) -> McpServer:
    settings = token_settings(tmp_path / "data")
    upstream = Upstream(StreamingASGITransport(create_emulator_app(tokens=[TOKEN], bots=emulated_bots())))
    server = live_server(create_app(settings, upstream_transport=upstream))
    key = asyncio.run(new_key(settings.resolved_database_url))
    return McpServer(server.url, key, settings, upstream)
