"""A crash harness: the Coze emulator and ``botport serve`` as real processes, streamed turns, ``kill -9``.

Shared by ``test_crash_recovery.py`` and ``scripts/crash_soak.py`` (the longer, measured version).

The emulator runs as a process of its own, as Coze does: its chats go on when botport dies, so an
orphaned chat keeps its conversation busy there (Coze's 4016) until botport cancels it. botport runs
in token mode against it, on a data dir (SQLite) or a PostgreSQL URL that survives the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

TOKEN = "crash-test-token"
DEMO_BOT_ID = "7000000000000000001"  # streams at 0.02 s a word; "/slow ..." at 0.3 s a word
CHECKPOINT_INTERVAL = 0.5
START_TIMEOUT = 90.0
MESSAGE_ID_HEADER = "X-Botport-Message-Id"

# A long answer: the demo bot quotes the question, so its answer (after ~5 s of reasoning) runs
# for about 30 s at "/slow" pace: every turn is still streaming when the server is killed, and
# an orphaned chat nobody cancels keeps its conversation busy for longer than the tests wait.
LONG_QUESTION = "/slow " + " ".join(f"word{i}" for i in range(60))
SHORT_QUESTION = "Are you there again?"


try:  # under pytest (tests/ on sys.path): a port no other xdist worker is handed, see live_server.py
    from live_server import free_port
except ImportError:  # scripts/crash_soak.py, run on its own

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The caller's environment without any botport setting."""
    return {key: value for key, value in os.environ.items() if not key.startswith("BOTPORT_")}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from botport.cli import app; app()", *args]


def wait_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited ({process.returncode}):\n{log_path.read_text()}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up:\n{log_path.read_text()}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Emulator:
    process: subprocess.Popen[bytes]
    url: str


@contextlib.contextmanager
def emulator_process(work_dir: Path, port: int | None = None) -> Iterator[Emulator]:
    """``botport emulator`` on ``port`` (a free one by default), as a process of its own."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = work_dir / f"emulator-{port}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            cli("emulator", "--port", str(port), "--token", TOKEN),
            env=clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(f"{url}/v1/conversations", process, log_path)
        yield Emulator(process, url)
    finally:
        os.kill(process.pid, signal.SIGCONT)  # a frozen one (SIGSTOP) must be able to stop
        stop_process(process)


@contextlib.contextmanager
def running_emulator(work_dir: Path) -> Iterator[str]:
    """The emulator as a process of its own; yields its base URL."""
    with emulator_process(work_dir) as emulator:
        yield emulator.url


class Botport:
    """``botport serve`` pointed at the emulator, started, killed and restarted on the same store."""

    def __init__(
        self,
        work_dir: Path,
        emulator_url: str,
        *,
        database_url: str | None = None,
        lease: float = 3.0,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.settings = settings or {}  # more BOTPORT_ variables
        self.data_dir = work_dir / "data"
        self.emulator_url = emulator_url
        self.database_url = database_url
        self.lease = lease
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def env(self) -> dict[str, str]:
        env = clean_env()
        env.update(
            {
                "BOTPORT_COZE_TOKEN": TOKEN,
                "BOTPORT_COZE_BASE_URL": self.emulator_url,
                "BOTPORT_BOT_ID": DEMO_BOT_ID,
                "BOTPORT_DATA_DIR": str(self.data_dir),
                "BOTPORT_HOST": "127.0.0.1",
                "BOTPORT_PORT": str(self.port),
                "BOTPORT_CHECKPOINT_INTERVAL": str(CHECKPOINT_INTERVAL),
                "BOTPORT_TURN_LEASE": str(self.lease),
            }
        )
        if self.database_url:
            env["BOTPORT_DATABASE_URL"] = self.database_url
        env.update(self.settings)
        return env

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "botport.db"

    def log_path(self, start: int) -> Path:
        return self.work_dir / f"serve-{start}.log"

    def logs(self) -> str:
        """Every run's log, for assertion messages."""
        parts = []
        for start in range(1, self.starts + 1):
            parts.append(f"--- serve run {start} ---\n{self.log_path(start).read_text(errors='replace')}")
        return "\n".join(parts)

    def create_key(self) -> str:
        done = subprocess.run(cli("keys", "create", "crash"), env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"botport keys create failed:\n{done.stderr}")
        return done.stdout.strip()

    def start(self) -> None:
        self.starts += 1
        log_path = self.log_path(self.starts)
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(cli("serve"), env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_healthy(f"{self.url}/healthz", self.process, log_path)

    def kill(self) -> float:
        """SIGKILL (``kill -9``): no shutdown code runs. Returns when it happened (monotonic)."""
        assert self.process is not None
        killed_at = time.monotonic()
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        assert self.process.returncode == -signal.SIGKILL
        return killed_at

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def coze_ids(self, message_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
        """message id -> (Coze conversation id, Coze chat id), read from the store itself."""
        query = (
            "SELECT m.id, c.coze_conversation_id, m.upstream_chat_id FROM messages m "
            "JOIN conversations c ON c.id = m.conversation_id"
        )
        if self.database_url:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                rows = conn.execute(query).fetchall()
        else:
            with contextlib.closing(sqlite3.connect(self.sqlite_path)) as conn:
                rows = conn.execute(query).fetchall()
        wanted = set(message_ids)
        return {row[0]: (row[1], row[2]) for row in rows if row[0] in wanted}


# --- the client side --------------------------------------------------------------------------


def api_client(botport: Botport, key: str, connections: int) -> httpx.AsyncClient:
    # Idle connections are dropped well before uvicorn's 5 s keep-alive timeout: a request sent on a
    # connection the server is closing at that moment fails on the client (ReadError), before botport.
    limits = httpx.Limits(
        max_connections=connections + 10, max_keepalive_connections=connections + 10, keepalive_expiry=2.0
    )
    return httpx.AsyncClient(
        base_url=botport.url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=httpx.Timeout(30.0),
        limits=limits,
    )


@dataclass
class Stream:
    """What one streamed turn's client received: the answer's id and each text delta, timed."""

    conversation_id: str
    message_id: str = ""
    deltas: list[tuple[float, str]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None  # the data of its error frame, if it ended with one
    ended_by: str = ""  # how the stream ended: the exception, or "eof"

    def received(self, until: float | None = None) -> str:
        return "".join(text for at, text in self.deltas if until is None or at <= until)


async def create_conversations(client: httpx.AsyncClient, count: int) -> list[str]:
    async def one() -> str:
        response = await client.post("/api/conversations", json={})
        response.raise_for_status()
        return str(response.json()["id"])

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def stream_turn(client: httpx.AsyncClient, stream: Stream, question: str) -> None:
    """Send ``question`` with ``stream: true`` and record every frame until the stream breaks."""
    body = {"content": question, "stream": True}
    try:
        async with client.stream(
            "POST", f"/api/conversations/{stream.conversation_id}/messages", json=body, timeout=None
        ) as response:
            if response.status_code != 200:
                await response.aread()
                stream.ended_by = f"HTTP {response.status_code}: {response.text}"
                return
            stream.message_id = response.headers[MESSAGE_ID_HEADER]
            buffer = b""
            async for chunk in response.aiter_bytes():
                buffer += chunk
                while b"\n\n" in buffer:
                    raw, buffer = buffer.split(b"\n\n", 1)
                    _record(stream, raw.decode())
        stream.ended_by = "eof"
    except httpx.HTTPError as exc:
        stream.ended_by = type(exc).__name__


def _record(stream: Stream, raw: str) -> None:
    event, data = "", ""
    for line in raw.split("\n"):
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            data += line[len("data: ") :]
    if not event:
        return  # a keepalive comment
    stream.events.append(event)
    if event == "text.delta":
        stream.deltas.append((time.monotonic(), json.loads(data)["text"]))
    elif event == "error":
        stream.error = json.loads(data)


async def messages(client: httpx.AsyncClient, conversation_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/conversations/{conversation_id}/messages")
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def all_messages(
    client: httpx.AsyncClient, conversation_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    found = await asyncio.gather(*(messages(client, c) for c in conversation_ids))
    return dict(zip(conversation_ids, found, strict=True))


async def wait_streaming_and_checkpointed(
    client: httpx.AsyncClient, streams: list[Stream], *, min_deltas: int, timeout: float
) -> None:
    """Until every stream has received ``min_deltas`` text deltas and its stored answer (still
    ``streaming``) holds some of that text: at least one checkpoint has written it."""
    deadline = time.monotonic() + timeout
    waiting = {s.conversation_id: s for s in streams}
    while waiting:
        if time.monotonic() > deadline:
            states = {c: (len(s.deltas), s.ended_by) for c, s in waiting.items()}
            raise AssertionError(f"{len(waiting)} turn(s) not streaming and checkpointed in time: {states}")
        ready = [s for s in waiting.values() if len(s.deltas) >= min_deltas]
        stored = await all_messages(client, [s.conversation_id for s in ready])
        for conversation_id, items in stored.items():
            answer = items[-1]
            assert answer["role"] == "assistant" and answer["status"] == "streaming", answer
            if answer["content"]:
                del waiting[conversation_id]
        for s in waiting.values():
            assert not s.ended_by, f"the stream of {s.conversation_id} ended early: {s.ended_by}"
        if waiting:
            await asyncio.sleep(0.2)


async def send(client: httpx.AsyncClient, conversation_id: str, content: str) -> httpx.Response:
    """One non-streaming turn."""
    return await client.post(
        f"/api/conversations/{conversation_id}/messages", json={"content": content, "stream": False}
    )


async def emulator_chat_status(emulator_url: str, coze_conversation_id: str, chat_id: str) -> str:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
        response = await client.get(
            f"{emulator_url}/v3/chat/retrieve",
            params={"conversation_id": coze_conversation_id, "chat_id": chat_id},
        )
    body = response.json()
    assert body["code"] == 0, body
    return str(body["data"]["status"])
