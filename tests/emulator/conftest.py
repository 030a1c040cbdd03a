"""A real uvicorn server running the emulator on 127.0.0.1 (a free port), one per test module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from cozepy import Coze
from emulator_helpers import OTHER_TOKEN, TOKEN, RunningEmulator, cozepy_client, fast_bots, serve

from botport.emulator.app import create_emulator_app


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[RunningEmulator]:
    with serve(create_emulator_app([TOKEN, OTHER_TOKEN], bots=fast_bots())) as running:
        yield running


@pytest.fixture
def http(emulator_server: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator_server.base_url, timeout=30) as client:
        yield client


def _cozepy(base_url: str, token: str) -> Iterator[Coze]:
    client = cozepy_client(base_url, token)
    yield client
    client._requester.sync_client.close()


@pytest.fixture
def coze(emulator_server: RunningEmulator) -> Iterator[Coze]:
    """cozepy's sync client with the emulator's token (async tests define their own ``coze``)."""
    yield from _cozepy(emulator_server.base_url, TOKEN)


@pytest.fixture
def other(emulator_server: RunningEmulator) -> Iterator[Coze]:
    """cozepy's sync client with another user's token."""
    yield from _cozepy(emulator_server.base_url, OTHER_TOKEN)


@pytest.fixture
def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"
