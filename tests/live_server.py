"""Real uvicorn servers on loopback, for tests about *when* things arrive and disconnects.

A module of its own (not conftest.py) so test files can import it by a unique name.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """An ASGI app served by a real uvicorn in a thread of its own (its own event loop)."""

    def __init__(self, app: Any, *, lifespan: str = "on", http: Any = "auto") -> None:
        """``http``: uvicorn's HTTP protocol, a name or a class (``botport.connections.guarded_protocol``)."""
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan=lifespan,
            ws="none",
            http=http,
            proxy_headers=False,  # as `botport serve`: botport reads X-Forwarded-* itself
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
