"""Fixtures shared by every test package: real uvicorn servers on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

pytest_plugins = ["store.conftest"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """An ASGI app served by a real uvicorn in a thread of its own (its own event loop)."""

    def __init__(self, app: Any, *, lifespan: str = "on") -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan, ws="none"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@contextmanager
def serve(app: Any, **kwargs: Any) -> Iterator[LiveServer]:
    server = LiveServer(app, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_server() -> Iterator[Callable[..., LiveServer]]:
    """Start apps on real uvicorn servers; all are stopped after the test."""
    started: list[LiveServer] = []

    def start(app: Any, **kwargs: Any) -> LiveServer:
        server = LiveServer(app, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop of its own for the whole
    session, and asyncio tests that ran after it started would find that loop instead of theirs."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
