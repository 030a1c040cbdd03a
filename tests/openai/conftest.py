"""Fixtures for the OpenAI edge: botport on a real uvicorn server, an API key, the official client.

``fast_server``: token mode against an emulator of the test's own with no delays, behind a transport
that records what botport sends to Coze. ``demo_server``: demo mode, exactly as a user starts it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openai_helpers import Server, make_key, token_server
from pydantic import SecretStr

from botport.app import create_app
from botport.emulator.faults import Faults
from botport.settings import Settings


@pytest.fixture
def fast_server(tmp_path: Path, live_server: Callable[..., Any]) -> Server:
    return token_server(tmp_path, live_server, Faults())


@pytest.fixture
def demo_server(tmp_path: Path, live_server: Callable[..., Any]) -> Server:
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr("openai-edge-test-secret"))
    assert settings.demo_mode
    key = make_key(settings)
    server = live_server(create_app(settings))
    return Server(server.url, key, settings.resolved_database_url)
