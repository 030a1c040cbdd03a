"""``kill -9`` the server under streaming turns, restart it: no turn is left running, every
conversation takes a new turn, and the partial texts are kept.

Real processes: the Coze emulator (its chats go on without botport, as Coze's do, so an orphaned
chat keeps its conversation busy there until it is cancelled) and ``botport serve`` in token mode
against it, killed with SIGKILL and restarted on the same store.

- SQLite: one instance, so on start every ``streaming`` answer is an orphan: resolved as ``failed``
  (``turn_lost``) and its Coze chat cancelled before the server serves; every new turn works at once.
- PostgreSQL: another instance may still be running those turns until their lease runs out; until
  then a new turn gets 409 with Retry-After, then it works (the orphan resolved, its chat cancelled).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from crash_helpers import (
    CHECKPOINT_INTERVAL,
    SHORT_QUESTION,
    Botport,
    Stream,
    all_messages,
    api_client,
    create_conversations,
    emulator_chat_status,
    running_emulator,
    send,
    stream_turn,
    wait_streaming_and_checkpointed,
)

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]

CONVERSATIONS = 20
# A delta that reached the client this long before the kill must be in the stored answer: one
# checkpoint interval, plus room for a slow tick on a busy 2-core machine.
MAY_LOSE = CHECKPOINT_INTERVAL + 0.75
# PostgreSQL: the restart (a new `botport serve` process, healthy) must come well inside the lease, so that
# the test sees the new turns refused while it runs; on a 2-core machine busy with other tests (pytest
# -n, with the browser tests) the kill, the broken streams and a restart took up to ~24 s, so the lease
# leaves room for that.
LEASE = {"sqlite": 3.0, "postgres": 40.0}
# The answers must outlive the lease (a chat left running would end on its own, and the test could not
# tell it from one cancelled): ~200 words at "/slow" pace, over a minute.
LONGER_QUESTION = "/slow " + " ".join(f"word{i}" for i in range(200))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """(backend, BOTPORT_DATABASE_URL): SQLite in the data dir, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return "sqlite", None
    return "postgres", str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def servers(tmp_path: Path, store: tuple[str, str | None]) -> Iterator[Botport]:
    """The emulator (running) and a botport pointed at it (not started yet); both stopped after."""
    backend, database_url = store
    with running_emulator(tmp_path) as emulator_url:
        botport = Botport(tmp_path, emulator_url, database_url=database_url, lease=LEASE[backend])
        try:
            yield botport
        finally:
            botport.stop()


async def test_kill_9_under_streaming_turns(servers: Botport, store: tuple[str, str | None]) -> None:
    botport = servers
    backend = store[0]
    key = botport.create_key()
    botport.start()
    async with api_client(botport, key, CONVERSATIONS) as client:
        conversations = await create_conversations(client, CONVERSATIONS)
        streams = [Stream(c) for c in conversations]
        tasks = [asyncio.create_task(stream_turn(client, s, LONGER_QUESTION)) for s in streams]
        try:
            await wait_streaming_and_checkpointed(client, streams, min_deltas=2, timeout=30)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        killed_at = botport.kill()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)

    for s in streams:
        assert s.ended_by not in ("", "eof"), f"{s.conversation_id}: the stream did not break: {s.ended_by}"
        assert "turn.completed" not in s.events and "turn.failed" not in s.events, s.events
    answers = [s.message_id for s in streams]
    coze = botport.coze_ids(answers)
    # Control: the chats outlive the killed server; left alone they keep the conversations busy.
    statuses = await chat_statuses(botport, coze, answers)
    assert statuses == ["in_progress"] * CONVERSATIONS, statuses

    botport.start()
    async with api_client(botport, key, CONVERSATIONS) as client:
        if backend == "sqlite":
            # The start resolved every orphan before serving: none is left running.
            stored = await all_messages(client, conversations)
            check_interrupted(stored, streams, killed_at, botport)
            assert await chat_statuses(botport, coze, answers) == ["canceled"] * CONVERSATIONS
            replies = await asyncio.gather(*(send(client, c, SHORT_QUESTION) for c in conversations))
            for reply in replies:
                assert reply.status_code == 200, f"{reply.status_code} {reply.text}\n{botport.logs()}"
        else:
            await new_turns_after_the_lease(client, botport, conversations, killed_at)

        stored = await all_messages(client, conversations)
    check_interrupted(stored, streams, killed_at, botport, followed_by_a_new_turn=True)
    assert await chat_statuses(botport, coze, answers) == ["canceled"] * CONVERSATIONS


async def chat_statuses(
    botport: Botport, coze: dict[str, tuple[str | None, str | None]], answers: list[str]
) -> list[str]:
    """The emulator's status of each answer's Coze chat (whose ids the first checkpoint stored)."""
    ids = []
    for answer in answers:
        coze_conversation_id, chat_id = coze[answer]
        assert coze_conversation_id and chat_id, f"answer {answer}: Coze ids not checkpointed: {coze[answer]}"
        ids.append((coze_conversation_id, chat_id))
    return list(await asyncio.gather(*(emulator_chat_status(botport.emulator_url, *i) for i in ids)))


def check_interrupted(
    stored: dict[str, list[dict[str, Any]]],
    streams: list[Stream],
    killed_at: float,
    botport: Botport,
    *,
    followed_by_a_new_turn: bool = False,
) -> None:
    """Each interrupted answer is ``failed`` (``turn_lost``) and keeps a non-empty prefix of what its
    client received, missing at most the last checkpoint interval; nothing is ``streaming``."""
    for s in streams:
        items = stored[s.conversation_id]
        where = f"conversation {s.conversation_id}: {[(m['role'], m['status']) for m in items]}"
        assert all(m["status"] != "streaming" for m in items), f"{where}\n{botport.logs()}"
        expected_roles = ["user", "assistant"] * (2 if followed_by_a_new_turn else 1)
        assert [m["role"] for m in items] == expected_roles, where
        answer = items[1]
        assert answer["id"] == s.message_id, where
        assert answer["status"] == "failed", where
        assert answer["error"]["code"] == "turn_lost", answer["error"]
        content, received = answer["content"], s.received()
        assert content, f"{where}: the partial answer was not kept"
        assert received.startswith(content), f"{where}: stored {content!r} is not a prefix of {received!r}"
        surely_saved = s.received(until=killed_at - MAY_LOSE)
        assert len(content) >= len(surely_saved), (
            f"{where}: more than one checkpoint interval lost: stored {content!r}, "
            f"received {MAY_LOSE:g} s before the kill {surely_saved!r}"
        )
        if followed_by_a_new_turn:
            assert items[3]["status"] == "completed" and items[3]["content"], items[3]


async def new_turns_after_the_lease(
    client: httpx.AsyncClient, botport: Botport, conversations: list[str], killed_at: float
) -> None:
    """Shared database: the dead instance's turns look alive until their lease runs out. A new turn
    gets 409 with Retry-After until then (nothing stored for it), then it works."""
    # The last heartbeat came at most one interval (and a slow tick) before the kill.
    surely_alive_until = killed_at + botport.lease - MAY_LOSE
    # Then the keeper's sweep (every 3 ticks) or the new turn itself resolves it, and a client that
    # waits as Retry-After says gets in; an orphaned chat left running would still be busy then.
    deadline = killed_at + botport.lease + 3 * CHECKPOINT_INTERVAL + 2.0 + 3.0
    assert time.monotonic() < surely_alive_until - 1, "the restart took longer than the lease"

    async def until_accepted(conversation_id: str) -> list[tuple[float, int, str]]:
        tries: list[tuple[float, int, str]] = []  # (seconds after the kill, status, error code)
        while True:
            sent_at = time.monotonic()
            reply = await send(client, conversation_id, SHORT_QUESTION)
            code = reply.json()["error"]["code"] if reply.status_code != 200 else ""
            tries.append((round(sent_at - killed_at, 2), reply.status_code, code))
            if reply.status_code == 200:
                return tries
            assert reply.status_code == 409, f"{reply.status_code} {reply.text}\n{botport.logs()}"
            retry_after = reply.headers.get("Retry-After")
            assert retry_after and int(retry_after) > 0, reply.headers
            assert time.monotonic() < deadline, f"409 did not clear: {tries}\n{botport.logs()}"
            await asyncio.sleep(int(retry_after))

    all_tries = await asyncio.gather(*(until_accepted(c) for c in conversations))
    for conversation_id, tries in zip(conversations, all_tries, strict=True):
        early = [t for t in tries if killed_at + t[0] < surely_alive_until]
        assert early, f"{conversation_id}: no try while the lease ran: {tries}"
        # Refused by botport itself (the turn looks alive), never sent to Coze, nothing stored.
        assert all(t[1:] == (409, "turn_in_progress") for t in early), f"{conversation_id}: {tries}"
