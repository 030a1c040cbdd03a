"""Fixtures shared by every test package: real uvicorn servers on loopback."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from live_server import LiveServer

pytest_plugins = ["store.conftest"]

# A test that leaves the data folder unset gets the per-user default (platformdirs): point "the user's
# data folder" at a throwaway one, for this process and the servers and commands it starts.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="botport-test-xdg-")


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
    session, and asyncio tests that ran after it started would find that loop instead of theirs.
    Under pytest-xdist each worker sorts the same way, and ``--dist load`` (pyproject.toml) hands each
    worker its tests in this order: the browser tests are last on every worker too.

    Tests marked ``slow`` first: a worker that starts one late would leave the others idle at the end."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("browser") is not None,
            item.get_closest_marker("slow") is None,
        )
    )
