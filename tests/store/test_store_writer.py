"""Group commit (``Database.write``): concurrent writes share transactions, each caller hears back
only after the commit, and one write that raises takes nothing of the others with it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from botport.store import Database
from botport.store import repository as repo
from botport.store.records import ConversationRecord
from botport.store.tables import conversations

ALICE = "web:alice"


class Refused(Exception):
    pass


def creates(title: str) -> Callable[[Connection], ConversationRecord]:
    """A write op that creates one of Alice's conversations."""
    return lambda conn: repo.insert_conversation(conn, owner=ALICE, bot="demo", title=title)


class LoopTicker:
    """Counts how often the event loop comes round to a task that sleeps ``pause`` each time: a
    loop blocked by a write would not count."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.count = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(self.pause)


def count_on_disk(path: Path) -> int:
    """Conversations as another process sees them: a fresh connection, outside botport."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM conversations").fetchone()[0])


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'botport.db'}")
    await db.start()
    yield db
    await db.close()


async def test_concurrent_writes_share_transactions_and_are_committed_when_answered(
    sqlite_db: Database, tmp_path: Path
) -> None:
    assert sqlite_db.writer is not None
    path = tmp_path / "botport.db"

    async def create(n: int) -> str:
        record = await sqlite_db.write(
            lambda conn: repo.insert_conversation(conn, owner=ALICE, bot="demo", title=f"c{n}")
        )
        # Answered: the row is on disk for any other connection.
        assert count_on_disk(path) >= 1
        return record.id

    ids = await asyncio.gather(*(create(n) for n in range(200)))
    assert len(set(ids)) == 200
    assert count_on_disk(path) == 200
    # 200 writers, fewer transactions: the ones that queued meanwhile share the next one.
    assert sqlite_db.writer.ops == 200
    assert sqlite_db.writer.batches <= 100


async def test_the_loop_runs_between_two_transactions(sqlite_db: Database) -> None:
    """However many writes wait, a transaction takes what fits in its budget and the streams run
    before the next one: the callers are answered in several rounds, the loop turning in between."""
    loop_turns = LoopTicker(0)

    answered_at: list[int] = []

    async def create(n: int) -> None:
        await sqlite_db.write(
            lambda conn: repo.insert_conversation(conn, owner=ALICE, bot="demo", title=f"c{n}")
        )
        answered_at.append(loop_turns.count)

    loop_turns.start()
    await asyncio.gather(*(create(n) for n in range(500)))
    loop_turns.stop()
    assert len(set(answered_at)) > 3  # answered at several turns of the loop, not all at once


async def test_a_write_that_raises_rolls_back_only_its_own_changes(
    sqlite_db: Database, tmp_path: Path
) -> None:
    def good(n: int) -> Callable[[Connection], object]:
        return creates(f"good {n}")

    def bad(conn: Connection) -> None:
        repo.insert_conversation(conn, owner=ALICE, bot="demo", title="half done")
        raise Refused("no")

    outcomes = await asyncio.gather(
        sqlite_db.write(good(1)),
        sqlite_db.write(bad),
        sqlite_db.write(good(2)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], Refused)
    async with sqlite_db.read() as conn:
        titles = set((await conn.execute(select(conversations.c.title))).scalars())
    assert titles == {"good 1", "good 2"}
    # Alone in its transaction, a failing write leaves nothing either.
    with pytest.raises(Refused):
        await sqlite_db.write(bad)
    assert count_on_disk(tmp_path / "botport.db") == 2


async def test_a_constraint_violation_reaches_its_caller_and_the_batch_commits(sqlite_db: Database) -> None:
    first = await sqlite_db.write(lambda conn: repo.insert_conversation(conn, owner=ALICE, bot="demo"))

    def duplicate(conn: Connection) -> None:
        conn.execute(insert(conversations).values(id=first.id, owner=ALICE, bot="demo", title=""))

    outcomes = await asyncio.gather(
        sqlite_db.write(duplicate),
        sqlite_db.write(lambda conn: repo.insert_conversation(conn, owner=ALICE, bot="demo", title="kept")),
        return_exceptions=True,
    )
    assert type(outcomes[0]).__name__ == "IntegrityError"
    async with sqlite_db.read() as conn:
        assert await conn.scalar(select(func.count()).select_from(conversations)) == 2


async def test_a_caller_gone_before_its_batch_began_writes_nothing(sqlite_db: Database) -> None:
    async with sqlite_db.connect():  # another writer of this process holds the write lock
        first = asyncio.ensure_future(
            sqlite_db.write(
                lambda conn: repo.insert_conversation(conn, owner=ALICE, bot="demo", title="first")
            )
        )
        await asyncio.sleep(0.01)  # its batch has begun: it waits for the lock
        abandoned = asyncio.ensure_future(
            sqlite_db.write(
                lambda conn: repo.insert_conversation(conn, owner=ALICE, bot="demo", title="abandoned")
            )
        )
        await asyncio.sleep(0.01)
        abandoned.cancel()
    await first
    await sqlite_db.write(lambda conn: None)  # the queue has drained
    async with sqlite_db.read() as conn:
        titles = set((await conn.execute(select(conversations.c.title))).scalars())
    assert titles == {"first"}


async def test_close_finishes_the_queued_writes(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'botport.db'}")
    await db.start()
    pending = [asyncio.ensure_future(db.write(creates(str(n)))) for n in range(20)]
    await asyncio.sleep(0)
    await db.close()
    assert all(p.done() and p.exception() is None for p in pending)
    assert count_on_disk(tmp_path / "botport.db") == 20


async def test_write_runs_on_every_backend(database: Database) -> None:
    """PostgreSQL and in-memory SQLite run each write in a transaction of its own; same results."""
    created = await database.write(
        lambda conn: repo.insert_conversation(conn, owner=ALICE, bot="demo", title="t")
    )

    def bad(conn: Connection) -> None:
        repo.insert_conversation(conn, owner=ALICE, bot="demo", title="rolled back")
        raise Refused("no")

    with pytest.raises(Refused):
        await database.write(bad)
    async with database.read() as conn:
        assert [c.id for c in (await repo.list_conversations(conn, owner=ALICE)).items] == [created.id]


async def test_another_process_holding_the_write_lock_is_waited_for_without_blocking_the_loop(
    sqlite_db: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "botport.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process (say, `botport keys create`) is writing
    loop_turns = LoopTicker(0.01)

    loop_turns.start()
    write = asyncio.ensure_future(
        sqlite_db.write(lambda conn: repo.insert_conversation(conn, owner=ALICE, bot="demo", title="w"))
    )
    await asyncio.sleep(0.3)
    assert not write.done()
    waited_ticks = loop_turns.count
    other.execute("COMMIT")
    other.close()
    created = await asyncio.wait_for(write, 5)
    loop_turns.stop()
    assert waited_ticks >= 15  # the loop kept running while the write waited for the lock
    async with sqlite_db.read() as conn:
        assert await repo.get_conversation(conn, owner=ALICE, conversation_id=created.id) == created


async def test_a_point_read_told_busy_runs_again_on_a_thread(sqlite_db: Database) -> None:
    """Reads run on the loop's thread with no busy wait; if SQLite says busy (another connection
    recovering the WAL: rare, and hard to provoke), the read runs again on a reader thread."""
    created = await sqlite_db.write(
        lambda conn: repo.insert_conversation(conn, owner=ALICE, bot="demo", title="kept")
    )
    assert (
        await sqlite_db.read_op(
            lambda conn: repo.find_conversation(conn, owner=ALICE, conversation_id=created.id)
        )
        == created
    )
    assert sqlite_db.reader is not None and sqlite_db.reader.fallbacks == 0
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def read(conn: Connection) -> object:
        threads.append(threading.get_ident())
        if len(threads) == 1:  # what SQLite raises when it cannot take its read lock at once
            raise OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))
        return repo.find_conversation(conn, owner=ALICE, conversation_id=created.id)

    assert await sqlite_db.read_op(read) == created
    assert threads[0] == loop_thread and threads[1] != loop_thread
    assert sqlite_db.reader.fallbacks == 1

    # Any other error is the caller's.
    def refuse(conn: Connection) -> None:
        raise Refused("no")

    with pytest.raises(Refused):
        await sqlite_db.read_op(refuse)
