"""Fixtures for the OpenAI edge: botport on a real uvicorn server, an API key, the official client.

``fast_server``: token mode against an emulator of the test's own with no delays, behind a transport
that records what botport sends to Coze. ``demo_server``: demo mode, exactly as a user starts it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from openai_helpers import SLUGS, TOKEN, Recorder, Server, make_key
from pydantic import SecretStr

from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOTS
from botport.emulator.faults import Faults
from botport.settings import BotConfig, Settings


@pytest.fixture
def fast_server(tmp_path: Path, live_server: Callable[..., Any]) -> Server:
    bots = [replace(bot, faults=Faults()) for bot in DEMO_BOTS]
    recorder = Recorder(StreamingASGITransport(create_emulator_app(tokens=[TOKEN], bots=bots)))
    settings = Settings(
        coze_token=SecretStr(TOKEN),
        coze_base_url="http://coze.test",
        bots=[BotConfig(slug=slug, bot_id=bot.id) for slug, bot in zip(SLUGS, DEMO_BOTS, strict=True)],
        data_dir=tmp_path,
        secret_key=SecretStr("openai-edge-test-secret"),
    )
    key = make_key(settings)
    server = live_server(create_app(settings, upstream_transport=recorder))
    return Server(server.url, key, settings.resolved_database_url, recorder)


@pytest.fixture
def demo_server(tmp_path: Path, live_server: Callable[..., Any]) -> Server:
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr("openai-edge-test-secret"))
    assert settings.demo_mode
    key = make_key(settings)
    server = live_server(create_app(settings))
    return Server(server.url, key, settings.resolved_database_url)
