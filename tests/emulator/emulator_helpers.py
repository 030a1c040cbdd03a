"""Helpers for the emulator's tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import uvicorn
from cozepy import Coze, SyncHTTPClient, TokenAuth
from starlette.applications import Starlette
from starlette.types import ASGIApp

from botport.emulator.bots import DEMO_BOTS, SLOW_BOT_ID, EmulatedBot
from botport.emulator.faults import Faults

TOKEN = "test-token"
OTHER_TOKEN = "other-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FAST = {"X-Emulator-Fault": "delta_delay=0; first_delay=0"}


def cozepy_client(base_url: str, token: str) -> Coze:
    """cozepy's sync client for a running emulator (close ``client._requester.sync_client``)."""
    return Coze(auth=TokenAuth(token), base_url=base_url, http_client=SyncHTTPClient(timeout=30))


def fast_bots() -> list[EmulatedBot]:
    """The demo bots without their pacing (the slow bot keeps it: tests about timing use it)."""
    return [bot if bot.id == SLOW_BOT_ID else replace(bot, faults=Faults()) for bot in DEMO_BOTS]


def chat_body(bot_id: str, text: str, *, user_id: str = "user-1", stream: bool = True) -> dict[str, object]:
    return {
        "bot_id": bot_id,
        "user_id": user_id,
        "stream": stream,
        "additional_messages": [
            {"role": "user", "type": "question", "content": text, "content_type": "text"}
        ],
    }


def parse_sse(body: bytes) -> list[tuple[str, object]]:
    """A strict reader for the emulator's own frames: ``event:`` line, ``data:`` line, blank line."""
    events: list[tuple[str, object]] = []
    text = body.decode("utf-8")
    for block in text.split("\n\n"):
        if not block:
            continue
        event_line, data_line = block.split("\n")
        assert event_line.startswith("event:") and data_line.startswith("data:")
        events.append((event_line[len("event:") :], json.loads(data_line[len("data:") :])))
    return events


def answer_of(body: bytes) -> dict[str, Any]:
    """The completed ``answer`` message of a recorded stream."""
    for name, data in parse_sse(body):
        if name == "conversation.message.completed" and isinstance(data, dict) and data["type"] == "answer":
            return data
    raise AssertionError("no completed answer in the stream")


def event_names(body: bytes) -> list[str]:
    return [name for name, _ in parse_sse(body)]


def collapse(names: list[str]) -> list[str]:
    """Runs of the same event name become one (the number of deltas depends on the text)."""
    return [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]


def stream_chat(
    client: httpx.Client, bot_id: str, text: str, *, headers: dict[str, str] | None = None, **kwargs: object
) -> httpx.Response:
    params = {"conversation_id": kwargs.pop("conversation_id")} if "conversation_id" in kwargs else None
    return client.post(
        "/v3/chat",
        headers={**AUTH, **(headers or {})},
        params=params,
        json=chat_body(bot_id, text, **kwargs),  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class RunningEmulator:
    base_url: str
    app: Starlette


@contextlib.contextmanager
def serve(app: Starlette, asgi: ASGIApp | None = None) -> Iterator[RunningEmulator]:
    """``app`` on a real uvicorn server (``asgi``, when given, wraps it: e.g. to count requests)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound before the server starts: no race for the port
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(asgi or app, log_level="critical", ws="none", lifespan="on"))
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
