"""Real uvicorn servers on loopback, for tests about *when* things arrive and disconnects.

A module of its own (not conftest.py) so test files can import it by a unique name.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

# free_port() draws from 20000-32767: below the kernel's ephemeral range (32768 and up on Linux), where
# every `bind(port 0)` and every outgoing connection gets its port, so none of those takes it before the
# server that was handed it binds it. Each pytest-xdist worker draws from its own slice of that range
# (at random within it, so another test session at the same time rarely meets it either).
_PORTS = range(20000, 32768)


def _own_ports() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"... under pytest-xdist
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    size = len(_PORTS) // max(count, 1)
    start = _PORTS.start + (index % max(count, 1)) * size
    return range(start, start + size)


def free_port() -> int:
    """A free loopback port for a server that binds it later itself: a process of its own (``botport
    serve``, ``botport emulator``), or one that restarts on the same port. No other test process is
    handed it meanwhile (see ``_PORTS``). A server in this process uses :class:`LiveServer`, which holds
    its socket from the start."""
    ports = _own_ports()
    for _ in range(200):
        port = random.choice(ports)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use (or still in TIME_WAIT): another one
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


class LiveServer:
    """An ASGI app served by a real uvicorn in a thread of its own (its own event loop)."""

    def __init__(self, app: Any, *, lifespan: str = "on", http: Any = "auto") -> None:
        """``http``: uvicorn's HTTP protocol, a name or a class (``botport.connections.guarded_protocol``)."""
        # Bound here and handed to uvicorn: the port is this server's from now on, with no window in
        # which another test (another xdist worker) could be given it.
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
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
        asyncio.run(self.server.serve(sockets=[self.socket]))

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.socket.close()


@contextmanager
def serve(app: Any, **kwargs: Any) -> Iterator[LiveServer]:
    server = LiveServer(app, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
