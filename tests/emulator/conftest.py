"""A real uvicorn server running the emulator on 127.0.0.1 (a free port), one per test module."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from emulator_helpers import OTHER_TOKEN, TOKEN, RunningEmulator, fast_bots, serve

from botport.emulator.app import create_emulator_app


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[RunningEmulator]:
    with serve(create_emulator_app([TOKEN, OTHER_TOKEN], bots=fast_bots())) as running:
        yield running


@pytest.fixture
def http(emulator_server: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator_server.base_url, timeout=30) as client:
        yield client
