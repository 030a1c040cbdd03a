"""Two real botport instances behind one load balancer: they share PostgreSQL, Redis and Coze (one
emulator). A turn started on instance A is followed, resumed, stopped and, when A dies, taken over
from instance B.

Redis is ``redis://127.0.0.1:6379/0`` unless ``BOTPORT_TEST_REDIS_URL`` says otherwise; when it is
down these tests fail with ``CI=true`` and are skipped otherwise (like PostgreSQL, see
tests/store/conftest.py). Each test has a PostgreSQL schema of its own; in Redis it touches only the
streams of its own turns (``botport:turn:{message_id}``, unique ids) and deletes them afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from gateway_helpers import (
    TOKEN,
    Frame,
    FrameReader,
    RecordingTransport,
    emulator,
    eventually,
    recording,
    text_deltas,
    token_settings,
)
from starlette.applications import Starlette

from botport.app import create_app
from botport.chat.redis_logs import stream_key
from botport.emulator.faults import Faults
from live_server import LiveServer, free_port

pytestmark = [pytest.mark.live, pytest.mark.postgres]

REDIS_URL = os.environ.get("BOTPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TIMEOUT = httpx.Timeout(30.0)
PROMPT = "tell me a story"
SLOW_PROMPT = "/slow a long slow answer"  # 0.3 s a word, ~12 s in all: always cut before its end
PROMPT_END = "Try `/long`"  # the last words of every demo answer
DELTAS = ("text.delta", "reasoning.delta")


# --- fixtures -------------------------------------------------------------------------------------


@dataclass
class Cluster:
    """botport instances on one PostgreSQL schema and one Redis, started and stopped by the test."""

    postgres_url: str
    redis: redis.Redis
    tmp_path: Path
    servers: list[LiveServer] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def settings_values(self, **overrides: Any) -> dict[str, Any]:
        return {
            "database_url": self.postgres_url,
            "redis_url": REDIS_URL,
            "turn_timeout": 60.0,  # bounds how long a stream of a killed instance lives in Redis
            **overrides,
        }

    def start(
        self, name: str, coze: Starlette | str, **overrides: Any
    ) -> tuple[str, RecordingTransport | None]:
        """An instance in a thread of this process, on a real uvicorn. Its Coze is the emulator app
        ``coze`` (in process, recorded), or the one served at the URL ``coze``."""
        transport = None
        if isinstance(coze, str):
            overrides["coze_base_url"] = coze
        else:
            transport = recording(coze)
        settings = token_settings(self.tmp_path / name, **self.settings_values(**overrides))
        server = LiveServer(create_app(settings, upstream_transport=transport)).start()
        self.servers.append(server)
        return server.url, transport

    def serve(self, app: Any) -> str:
        server = LiveServer(app).start()
        self.servers.append(server)
        return server.url

    def spawn(self, name: str, coze_url: str, **overrides: Any) -> tuple[str, subprocess.Popen[bytes]]:
        """An instance as its own process (``botport serve``), so that it can really be killed."""
        port = free_port()
        values = self.settings_values(coze_base_url=coze_url, port=port, log_level="warning", **overrides)
        settings = token_settings(self.tmp_path / name, **values)  # validated, as in this process
        env = {
            **os.environ,
            "BOTPORT_COZE_TOKEN": TOKEN,
            "BOTPORT_BOTS": json.dumps([bot.model_dump() for bot in settings.bots]),
            "BOTPORT_SECRET_KEY": settings.secret_key.get_secret_value() if settings.secret_key else "",
            "BOTPORT_DATA_DIR": str(settings.data_dir),
            **{f"BOTPORT_{key.upper()}": str(value) for key, value in values.items()},
        }
        log = (self.tmp_path / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "botport.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90  # a fresh interpreter importing the app, under CI's load
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return url, process
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"instance {name} did not start:\n{self.log_of(name)}")
            time.sleep(0.1)

    def log_of(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def stored(self, message_id: str) -> dict[str, Any]:
        """The answer's row, read from PostgreSQL directly (also what the API does not show)."""
        with psycopg.connect(self.postgres_url, autocommit=True) as conn:
            cursor = conn.execute("SELECT * FROM messages WHERE id = %s", (message_id,))
            row = cursor.fetchone()
            assert row is not None and cursor.description is not None
            return {column.name: value for column, value in zip(cursor.description, row, strict=True)}

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        for server in reversed(self.servers):
            server.stop()
        # This test's turns only: their ids are unique, and the schema holds them all.
        try:
            with psycopg.connect(self.postgres_url, autocommit=True) as conn:
                ids = [row[0] for row in conn.execute("SELECT id FROM messages WHERE role = 'assistant'")]
        except psycopg.errors.UndefinedTable:  # no instance got as far as creating the tables
            return
        if ids:
            self.redis.delete(*(stream_key(message_id) for message_id in ids))


@pytest.fixture
def cluster(postgres_url: str, redis_client: redis.Redis, tmp_path: Path) -> Iterator[Cluster]:
    instances = Cluster(postgres_url, redis_client, tmp_path)
    try:
        yield instances
    finally:
        instances.stop()


# --- helpers --------------------------------------------------------------------------------------


@asynccontextmanager
async def browser(url_a: str, url_b: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """One browser whose requests the load balancer sends to A or to B (one cookie jar)."""
    async with (
        httpx.AsyncClient(base_url=url_a, timeout=TIMEOUT) as on_a,
        httpx.AsyncClient(base_url=url_b, timeout=TIMEOUT) as on_b,
    ):
        assert (await on_a.get("/api/config")).status_code == 200  # the identity cookie
        on_b.cookies = on_a.cookies
        yield on_a, on_b


async def new_conversation(client: httpx.AsyncClient, bot: str) -> str:
    response = await client.post("/api/conversations", json={"bot": bot})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def follow(
    stack: AsyncExitStack, client: httpx.AsyncClient, message_id: str, **kwargs: Any
) -> FrameReader:
    """Open ``GET /api/messages/{id}/events`` (closed when ``stack`` closes)."""
    response = await stack.enter_async_context(
        client.stream("GET", f"/api/messages/{message_id}/events", **kwargs)
    )
    assert response.status_code == 200, (await response.aread()).decode()
    assert response.headers["content-type"].startswith("text/event-stream")
    return FrameReader(response)


async def answer_of(client: httpx.AsyncClient, cid: str) -> dict[str, Any]:
    response = await client.get(f"/api/conversations/{cid}/messages")
    assert response.status_code == 200, response.text
    last: dict[str, Any] = response.json()["items"][-1]
    assert last["role"] == "assistant"
    return last


async def running_turn(client: httpx.AsyncClient, cid: str) -> dict[str, Any] | None:
    response = await client.get(f"/api/conversations/{cid}")
    assert response.status_code == 200, response.text
    turn: dict[str, Any] | None = response.json()["running_turn"]
    return turn


async def ask(client: httpx.AsyncClient, cid: str, content: str) -> dict[str, Any]:
    """A whole turn, not streamed: it must be accepted and complete."""
    response = await client.post(
        f"/api/conversations/{cid}/messages", json={"content": content, "stream": False}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["status"] == "completed", answer
    return answer


def text_of(frames: list[Frame], kind: str = "text.delta") -> str:
    return "".join(f.data["text"] for f in frames if f.event == kind)


def check_numbering(frames: list[Frame], after: int) -> None:
    """Replayed from a turn's log: every frame numbered, after ``after``, strictly increasing; a
    number is skipped only where waiting deltas were joined into one frame (it carries the last)."""
    seq = after
    for frame in frames:
        assert frame.id is not None, frame
        assert frame.id > seq, f"{frame} after id {seq}"
        if frame.id > seq + 1:
            assert frame.event in DELTAS, f"ids {seq + 1}..{frame.id - 1} are missing before {frame}"
        seq = frame.id


def before(frames: list[Frame], seq: int) -> list[Frame]:
    """The frames up to and including number ``seq``, which must be a frame boundary."""
    assert seq == 0 or any(f.id == seq for f in frames), f"no frame ends at id {seq}"
    return [f for f in frames if f.id is not None and f.id <= seq]


def check_resumed(frames: list[Frame], after: int, reference: list[Frame], answer: dict[str, Any]) -> None:
    """``frames`` (followed after ``after``) are exactly the rest of ``reference`` (a whole turn):
    numbered, each delta once, the same other events, and with what came before it the answer."""
    check_numbering(frames, after)
    earlier = before(reference, after)
    for kind, stored in (("text.delta", "content"), ("reasoning.delta", "reasoning")):
        assert text_of(earlier, kind) + text_of(frames, kind) == answer[stored], kind
    rest = [f for f in reference if f.id is not None and f.id > after]
    assert [event_of(f) for f in frames if f.event not in DELTAS] == [
        event_of(f) for f in rest if f.event not in DELTAS
    ]


def event_of(frame: Frame) -> Frame:
    """A frame as far as it tells its event. ``message.completed`` carries a whole message, whose
    status, usage and follow-ups are those stored when the watcher connected (they differ between
    a watcher from the start and one that resumed after the end): only the event's own part counts."""
    if frame.event != "message.completed":
        return frame
    own = {key: frame.data[key] for key in ("id", "conversation_id", "role", "content", "html", "reasoning")}
    return Frame(frame.event, own, frame.id)


def chats_of(coze: Starlette) -> list[dict[str, Any]]:
    """The chats the shared emulator ran, as Coze reports them (oldest first)."""
    return [chat.to_wire() for chat in coze.state.emulator.store.chats.values()]


# --- 1, 2: follow and resume a running turn on the other instance --------------------------------


async def test_follow_a_running_turn_from_any_number_on_the_other_instance(cluster: Cluster) -> None:
    coze = emulator({"slow": Faults(delta_delay=0.08)})  # ~41 words: ~3.3 s
    url_a, _ = cluster.start("a", coze)
    url_b, _ = cluster.start("b", coze)
    async with browser(url_a, url_b) as (on_a, on_b), AsyncExitStack() as stack:
        cid = await new_conversation(on_b, "slow")
        body = {"content": PROMPT}
        response = await stack.enter_async_context(
            on_a.stream("POST", f"/api/conversations/{cid}/messages", json=body)
        )
        assert response.status_code == 200
        message_id = response.headers["X-Botport-Message-Id"]
        on_a_reader = FrameReader(response)
        await on_a_reader.until(text_deltas(3))
        seen = on_a_reader.frames[-1].id
        assert seen is not None

        turn = await running_turn(on_b, cid)
        assert turn is not None and turn["message_id"] == message_id
        points = (0, 1, seen, seen + 4)  # seen + 4: a number the turn has not reached yet
        by_query = {after: await follow(stack, on_b, message_id, params={"after": after}) for after in points}
        by_header = {
            after: await follow(stack, on_b, message_id, headers={"Last-Event-ID": str(after)})
            for after in (0, seen)
        }
        # Live: a delta after the last one A showed reaches B while the turn still runs.
        await by_query[seen].until(text_deltas(1))
        assert await running_turn(on_b, cid) is not None, "the turn ended too soon to show following"

        readers = [on_a_reader, *by_query.values(), *by_header.values()]
        await asyncio.wait_for(asyncio.gather(*(reader.rest() for reader in readers)), timeout=15)
        answer = await answer_of(on_b, cid)
        assert answer["id"] == message_id and answer["status"] == "completed"
        assert answer["content"].startswith("**Turn 1.**") and PROMPT_END in answer["content"]
        assert await running_turn(on_b, cid) is None

        on_a_frames = on_a_reader.frames
        check_numbering(on_a_frames, 0)
        assert on_a_reader.text == answer["content"]
        whole = by_query[0].frames  # the whole turn, as instance B tells it
        check_resumed(whole, 0, on_a_frames, answer)
        assert whole[0].event == "turn.started" and whole[0].id == 1
        assert whole[-1] == on_a_frames[-1] and whole[-1].event == "turn.completed"
        for after, reader in by_query.items():
            check_resumed(reader.frames, after, whole, answer)
        # What A showed up to ``seen``, and B after it: the answer, each delta once.
        assert text_of(before(on_a_frames, seen)) + by_query[seen].text == answer["content"]
        # Last-Event-ID is the same resume point as ?after=.
        for after, reader in by_header.items():
            assert reader.frames == by_query[after].frames

        bad = await on_b.get(f"/api/messages/{message_id}/events", headers={"Last-Event-ID": "soon"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_event_id"


async def test_a_watcher_reconnects_back_and_forth_with_last_event_id(cluster: Cluster) -> None:
    """An EventSource behind a load balancer: each reconnect sends Last-Event-ID and may land on the
    other instance; what it shows adds up to the answer, every delta exactly once."""
    coze = emulator({"slow": Faults(delta_delay=0.06)})
    url_a, _ = cluster.start("a", coze)
    url_b, _ = cluster.start("b", coze)
    async with browser(url_a, url_b) as (on_a, on_b):
        cid = await new_conversation(on_a, "slow")
        body = {"content": PROMPT}
        async with on_a.stream("POST", f"/api/conversations/{cid}/messages", json=body) as response:
            message_id = response.headers["X-Botport-Message-Id"]
            reader = FrameReader(response)
            await reader.until(text_deltas(2))
        shown = list(reader.frames)  # the connection dropped; the turn goes on
        async with AsyncExitStack() as stack:
            resumed = await follow(stack, on_b, message_id, headers={"Last-Event-ID": str(shown[-1].id)})
            await resumed.until(text_deltas(3))  # B goes on from there; then that connection drops too
        shown += resumed.frames
        async with AsyncExitStack() as stack:
            resumed = await follow(stack, on_a, message_id, headers={"Last-Event-ID": str(shown[-1].id)})
            shown += await asyncio.wait_for(resumed.rest(), timeout=15)
        answer = await answer_of(on_b, cid)
        assert shown[-1].event == "turn.completed" and answer["status"] == "completed"
        check_numbering(shown, 0)
        assert text_of(shown) == answer["content"]
        others = [f for f in shown if f.event not in DELTAS]
        assert [f.event for f in others] == [
            "turn.started",
            "message.completed",
            "follow_ups",
            "turn.completed",
        ]
        assert others[1].data["content"] == answer["content"]


# --- 3: Stop on the other instance ---------------------------------------------------------------


async def test_stop_on_the_other_instance_ends_every_watcher(cluster: Cluster) -> None:
    coze = emulator({"slow": Faults(delta_delay=0.01)})  # /slow paces itself; other questions are quick
    url_a, transport_a = cluster.start("a", coze)
    url_b, _ = cluster.start("b", coze)
    async with browser(url_a, url_b) as (on_a, on_b), AsyncExitStack() as stack:
        cid = await new_conversation(on_a, "slow")
        body = {"content": SLOW_PROMPT}
        response = await stack.enter_async_context(
            on_a.stream("POST", f"/api/conversations/{cid}/messages", json=body)
        )
        message_id = response.headers["X-Botport-Message-Id"]
        on_a_reader = FrameReader(response)
        await on_a_reader.until(text_deltas(2))
        on_b_reader = await follow(stack, on_b, message_id, params={"after": 0})
        await on_b_reader.until(text_deltas(2))

        stopped_at = time.monotonic()
        cancel = await on_b.post(f"/api/conversations/{cid}/cancel")
        assert cancel.status_code == 200 and cancel.json() == {"cancelled": True}
        await asyncio.wait_for(asyncio.gather(on_a_reader.rest(), on_b_reader.rest()), timeout=10)
        took = time.monotonic() - stopped_at
        assert took < 3, f"Stop should end the streams at once (the answer takes ~12 s), not in {took:.1f} s"

        end = on_a_reader.frames[-1]
        assert end.event == "error", on_a_reader.frames
        assert end.data["turn_status"] == "interrupted" and end.data["code"] == "cancelled"
        assert end.data["message_id"] == message_id
        assert on_b_reader.frames[-1] == end
        check_numbering(on_a_reader.frames, 0)
        check_numbering(on_b_reader.frames, 0)

        answer = await answer_of(on_b, cid)
        assert answer["id"] == message_id and answer["status"] == "interrupted"
        assert answer["error"]["code"] == "cancelled"
        assert answer["content"] == on_a_reader.text == on_b_reader.text
        assert answer["content"].startswith("**Turn 1.**") and PROMPT_END not in answer["content"]
        assert await running_turn(on_b, cid) is None
        # A, which ran the turn, told Coze to stop the chat.
        assert transport_a is not None
        assert [r.body["chat_id"] for r in transport_a.paths("/v3/chat/cancel")] == [chats_of(coze)[0]["id"]]
        assert chats_of(coze)[0]["status"] == "canceled"

        # The conversation is free at once, on either instance, and keeps its context.
        assert "Turn 2." in (await ask(on_b, cid, "short one"))["content"]
        assert "Turn 3." in (await ask(on_a, cid, "and another"))["content"]
        again = await on_b.post(f"/api/conversations/{cid}/cancel")
        assert again.json() == {"cancelled": False}


# --- 4: resume after the end -----------------------------------------------------------------------


async def test_resume_a_finished_turn_on_the_other_instance_within_retention(cluster: Cluster) -> None:
    coze = emulator()  # the demo bot: reasoning, then the answer, with no delays
    url_a, _ = cluster.start("a", coze)
    url_b, _ = cluster.start("b", coze)
    async with browser(url_a, url_b) as (on_a, on_b):
        cid = await new_conversation(on_a, "demo")
        async with AsyncExitStack() as stack:
            response = await stack.enter_async_context(
                on_a.stream("POST", f"/api/conversations/{cid}/messages", json={"content": PROMPT})
            )
            message_id = response.headers["X-Botport-Message-Id"]
            on_a_frames = await FrameReader(response).rest()
        answer = await answer_of(on_b, cid)
        assert answer["status"] == "completed" and answer["reasoning"]
        last = on_a_frames[-1].id
        assert last is not None and on_a_frames[-1].event == "turn.completed"

        async with AsyncExitStack() as stack:
            whole = await asyncio.wait_for((await follow(stack, on_b, message_id)).rest(), timeout=5)
        check_resumed(whole, 0, on_a_frames, answer)
        assert whole[-1] == on_a_frames[-1]
        for after in (1, 2, len(whole) // 2, last - 2, last - 1):
            async with AsyncExitStack() as stack:
                reader = await follow(stack, on_b, message_id, params={"after": after})
                frames = await asyncio.wait_for(reader.rest(), timeout=5)
            check_resumed(frames, after, whole, answer)

        # A watcher that saw the end has nothing more to get, and is told so at once.
        asked_at = time.monotonic()
        async with AsyncExitStack() as stack:
            reader = await follow(stack, on_b, message_id, params={"after": last})
            assert await asyncio.wait_for(reader.rest(), timeout=10) == []
        assert time.monotonic() - asked_at < 3, "a resume after the end should end at once"


async def test_resume_on_the_other_instance_after_the_log_expired_replays_the_stored_answer(
    cluster: Cluster,
) -> None:
    coze = emulator({"slow": Faults(delta_delay=0.01)})
    url_a, _ = cluster.start("a", coze, turn_log_retention=0)
    url_b, _ = cluster.start("b", coze)
    async with browser(url_a, url_b) as (on_a, on_b):
        cid = await new_conversation(on_a, "slow")
        async with AsyncExitStack() as stack:
            response = await stack.enter_async_context(
                on_a.stream("POST", f"/api/conversations/{cid}/messages", json={"content": PROMPT})
            )
            message_id = response.headers["X-Botport-Message-Id"]
            on_a_frames = await FrameReader(response).rest()
        last = on_a_frames[-1].id
        assert last is not None and on_a_frames[-1].event == "turn.completed"
        assert await eventually(lambda: not cluster.redis.exists(stream_key(message_id)), timeout=5), (
            "with turn_log_retention=0 the turn's Redis stream should be gone once it ended"
        )
        answer = await answer_of(on_b, cid)
        assert answer["status"] == "completed" and answer["content"] == text_of(on_a_frames)

        async def replay(after: int) -> list[Frame]:
            async with AsyncExitStack() as stack:
                reader = await follow(stack, on_b, message_id, params={"after": after})
                return await asyncio.wait_for(reader.rest(), timeout=5)

        whole = await replay(0)
        assert [(f.event, f.id) for f in whole] == [
            ("turn.started", 1),
            ("message.completed", last),
            ("follow_ups", last),
            ("turn.completed", last),
        ]
        assert whole[0].data["message_id"] == message_id and whole[0].data["conversation_id"] == cid
        completed = whole[1].data
        assert completed["id"] == message_id and completed["content"] == answer["content"]
        assert [(f.event, f.data) for f in whole[2:]] == [(f.event, f.data) for f in on_a_frames[-2:]]
        for after in (1, last // 2, last - 1):
            assert await replay(after) == whole[1:]
        assert await replay(last) == []


# --- 5: an instance dies; the other takes its turn over ------------------------------------------


async def test_a_killed_instance_s_turn_is_resolved_by_the_other(cluster: Cluster) -> None:
    """``kill -9`` of the instance running a turn: the other's keeper finds its lease run out, stores
    the answer as failed with the text checkpointed so far and cancels the Coze chat, so the
    conversation takes a new turn at once; the other's watcher of the turn ends with turn_lost."""
    lease, checkpoint = 2.0, 0.5
    settings = {"turn_lease": lease, "checkpoint_interval": checkpoint}
    coze = emulator({"slow": Faults(delta_delay=0.01)})
    coze_url = cluster.serve(coze)  # one Coze for both instances, on loopback
    url_a, process_a = cluster.spawn("a", coze_url, **settings)
    url_b, _ = cluster.start("b", coze_url, **settings)
    async with browser(url_a, url_b) as (on_a, on_b), AsyncExitStack() as stack:
        cid = await new_conversation(on_b, "slow")
        body = {"content": SLOW_PROMPT}
        async with on_a.stream("POST", f"/api/conversations/{cid}/messages", json=body) as response:
            assert response.status_code == 200
            message_id = response.headers["X-Botport-Message-Id"]
            await FrameReader(response).until(text_deltas(2))
        on_b_reader = await follow(stack, on_b, message_id)
        await on_b_reader.until(text_deltas(4))
        assert await eventually(lambda: cluster.stored(message_id)["content"], timeout=3), "no checkpoint"
        watching = asyncio.ensure_future(on_b_reader.rest())
        stack.callback(watching.cancel)

        process_a.send_signal(signal.SIGKILL)
        process_a.wait(timeout=10)
        killed_at = time.monotonic()
        # B's keeper sweeps every 3 checkpoints: the turn is resolved soon after the lease runs out.
        resolved = await eventually(lambda: cluster.stored(message_id)["status"] == "failed", timeout=10)
        resolved_after = time.monotonic() - killed_at
        assert resolved, "the turn of the killed instance was not resolved"
        assert resolved_after < lease + 3 * checkpoint + 2, f"resolved {resolved_after:.1f} s after the kill"
        answer = await answer_of(on_b, cid)
        assert answer["id"] == message_id and answer["status"] == "failed"
        assert answer["error"]["code"] == "turn_lost"
        # The text A checkpointed (every 0.5 s) is kept: a start of what was streamed (as little as
        # its first word, when the checkpoint came early), cut before the end.
        kept = answer["content"]
        assert kept and ("**Turn 1.**".startswith(kept) or kept.startswith("**Turn 1.**")), kept
        assert PROMPT_END not in kept
        # Its Coze chat was cancelled (it had ~10 s to go), so the conversation is free at once.
        assert await eventually(lambda: chats_of(coze)[0]["status"] == "canceled", timeout=5)
        assert await running_turn(on_b, cid) is None
        assert "Turn 2." in (await ask(on_b, cid, "are you still there?"))["content"]

        # The watcher on B, following A's Redis stream, gets the end B's keeper wrote to that stream
        # when it resolved the turn (and checks the store itself within half a lease of quiet).
        await asyncio.wait_for(watching, timeout=lease + 10)
        ended_after = time.monotonic() - killed_at
        end = on_b_reader.frames[-1]
        assert end.event == "error", on_b_reader.frames
        assert end.data["turn_status"] == "failed" and end.data["code"] == "turn_lost"
        assert end.data["message_id"] == message_id
        check_numbering(on_b_reader.frames, 0)
        assert on_b_reader.text.startswith(answer["content"])
        bound = lease + 3 * checkpoint + 3
        assert ended_after < bound, f"the watcher ended {ended_after:.1f} s after the kill"
