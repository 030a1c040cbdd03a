"""A real uvicorn server running the emulator on 127.0.0.1 (a free port), one per test module."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from emulator_helpers import OTHER_TOKEN, TOKEN, fast_bots
from starlette.applications import Starlette

from botport.emulator.app import create_emulator_app


@dataclass(frozen=True)
class RunningEmulator:
    base_url: str
    app: Starlette


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[RunningEmulator]:
    app = create_emulator_app([TOKEN, OTHER_TOKEN], bots=fast_bots())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound before the server starts: no race for the port
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the emulator server did not start")
        time.sleep(0.02)
    try:
        yield RunningEmulator(base_url=f"http://127.0.0.1:{port}", app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@pytest.fixture
def http(emulator_server: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator_server.base_url, timeout=30) as client:
        yield client
