"""Group commit for SQLite: the writes of many turns in one short transaction, run in one go.

Under load, what made a SQLite write slow was never SQLite (a statement takes microseconds): it was
the trips between the event loop and a database thread. aiosqlite hops to its thread and back for
every statement; a transaction that waits for a busy loop to come round again holds the write lock
while every other writer queues behind it (13 ms per transaction, 1.3 s in line at 100 concurrent
turns); and a thread that runs the statements itself still fights the loop for the GIL between them.

Here a write is a plain function of a synchronous connection (a *write op*). Callers queue ops; the
writer takes every op waiting, runs them back to back in one ``BEGIN IMMEDIATE`` transaction — each in
a savepoint, so one that raises leaves the others' writes in — commits once, and answers every caller.
It runs them on the event loop's own thread, without a pause: a batch holds SQLite for well under a
millisecond per op, no hop, nothing to wait for in between. Two things could make it block, and are
kept off it: another process holding the write lock (the writer's busy timeout is 0: it waits for
the lock with ``asyncio.sleep`` instead), and WAL checkpoints, which fsync (automatic checkpoints are
off on this connection; a thread checkpoints in the background).

A caller is answered only after the commit: what it wrote is durable when it hears back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteOp = Callable[[Connection], T]

# A transaction stops taking ops once it has run for its budget, commits, and lets the loop run
# before the next one, so the streams on the loop (and SQLite's write lock) are held about a
# millisecond at a time. When ops queue up anyway (a loop so busy that the writer's turns come
# rarely), the budget grows with the age of the oldest op, up to MAX_BUDGET: the writer keeps up
# with the load instead of starving (and with it the heartbeats of the running turns).
BATCH_BUDGET = 0.0005
MAX_BUDGET = 0.02
LOCK_WAIT = 15.0  # seconds to wait for another process's write lock before the batch fails
CHECKPOINT_EVERY = 1.0  # seconds between background WAL checkpoints, while there are writes

_Outcome = tuple[bool, Any]  # (succeeded, result or exception)


class GroupWriter:
    """One SQLite file's writer. ``await write(op)``; ``await close()`` after the last write.

    ``lock`` is the asyncio lock every other writer of this process takes (``Database.connect``):
    a batch holds it while it runs, so this process never makes SQLite's busy handler wait.
    """

    def __init__(self, url: URL, lock: asyncio.Lock, configure: Callable[[Engine], None]) -> None:
        self._path = url.database or ""
        # One connection, used only from the event loop's thread.
        self._engine = create_engine(url.set(drivername="sqlite"), poolclass=StaticPool)
        configure(self._engine)
        event.listen(self._engine, "connect", _never_block)
        self._conn: Connection | None = None
        self._lock = lock
        self._queue: list[tuple[WriteOp[Any], asyncio.Future[Any], float]] = []  # op, caller, queued at
        self._draining: asyncio.Task[None] | None = None
        self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="botport-wal-checkpoint")
        self._checkpointing: asyncio.Future[None] | None = None
        self._last_checkpoint = time.monotonic()
        self.batches = 0  # transactions committed (for the bench and the tests)
        self.ops = 0
        self.held: deque[float] = deque(maxlen=10_000)  # seconds from BEGIN to the end of COMMIT, per batch

    @property
    def engine(self) -> Engine:
        return self._engine

    async def write(self, op: WriteOp[T]) -> T:
        """Run ``op`` in the next batch; its result, or its exception, once the batch committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((op, future, time.monotonic()))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain(), name="botport-db-writer")
        return await future

    async def close(self) -> None:
        """Finish the queued writes, then release the connection and the checkpoint thread."""
        while self._draining is not None and not self._draining.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._draining)
        if self._checkpointing is not None:
            with contextlib.suppress(Exception):
                await self._checkpointing
        self._checkpointer.shutdown(wait=True)
        if self._conn is not None:
            self._conn.close()
        self._engine.dispose()

    async def _drain(self) -> None:
        while self._queue:
            # A caller that gave up before its batch began (a client gone) writes nothing.
            batch = [entry for entry in self._queue if not entry[1].done()]
            self._queue = []
            if not batch:
                continue
            try:
                async with self._lock:
                    await self._begin()
                    waited = time.monotonic() - batch[0][2]
                    budget = min(MAX_BUDGET, max(BATCH_BUDGET, waited / 10))
                    outcomes = self._run([op for op, _, _ in batch], budget)
            except Exception as exc:  # BEGIN or COMMIT failed: none of the batch was written
                outcomes = [(False, exc)] * len(batch)
            # What did not fit in this transaction's budget goes first in the next one.
            self._queue = batch[len(outcomes) :] + self._queue
            for (_, future, _), (ok, value) in zip(batch, outcomes, strict=False):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
            self._maybe_checkpoint()
            await asyncio.sleep(0)  # the streams run between two transactions

    async def _begin(self) -> None:
        """``BEGIN IMMEDIATE``; while another process holds the write lock, wait without blocking."""
        if self._conn is None:
            self._conn = self._engine.connect()
        deadline = time.monotonic() + LOCK_WAIT
        pause = 0.001
        while True:
            try:
                self._conn.begin()
                return
            except OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _run(self, ops: list[WriteOp[Any]], budget: float) -> list[_Outcome]:
        """The begun transaction: ops until the budget is spent (at least one), then one COMMIT.
        Returns the outcomes of the ops it ran, in order."""
        conn = self._conn
        assert conn is not None
        began = time.perf_counter()
        try:
            if len(ops) == 1:  # alone in its transaction: no savepoint needed, a raise rolls it back
                try:
                    outcomes: list[_Outcome] = [(True, ops[0](conn))]
                except Exception as exc:
                    conn.rollback()
                    return [(False, exc)]
            else:
                outcomes = []
                for op in ops:
                    if outcomes and time.perf_counter() - began > budget:
                        break
                    try:
                        with conn.begin_nested():
                            outcomes.append((True, op(conn)))
                    except Exception as exc:
                        outcomes.append((False, exc))
            conn.commit()
        except BaseException:
            if conn.in_transaction():
                conn.rollback()
            raise
        self.held.append(time.perf_counter() - began)
        self.batches += 1
        self.ops += len(outcomes)
        return outcomes

    def _maybe_checkpoint(self) -> None:
        """Copy the WAL into the database file now and then, on a thread (it fsyncs)."""
        if self._checkpointing is not None and not self._checkpointing.done():
            return
        if time.monotonic() - self._last_checkpoint < CHECKPOINT_EVERY:
            return
        self._last_checkpoint = time.monotonic()
        loop = asyncio.get_running_loop()
        self._checkpointing = loop.run_in_executor(self._checkpointer, _checkpoint, self._path)
        self._checkpointing.add_done_callback(_log_failure)


def _never_block(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    finally:
        cursor.close()


def _is_busy(exc: OperationalError) -> bool:
    return isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig)


def _checkpoint(path: str) -> None:
    # PASSIVE: copies what no reader still needs, never waits for (or blocks) readers and writers.
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as conn:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("WAL checkpoint failed: %s", future.exception())
