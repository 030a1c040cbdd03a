"""Group commit for SQLite: the writes of many turns in one transaction, on a thread of its own.

Under load, what made a SQLite write slow was not SQLite (a statement takes microseconds) but the
trips between the event loop and the database thread: aiosqlite hops to its thread and back for
every statement, and a transaction that waits for a busy loop to come round again holds the write
lock while every other writer queues behind it (13 ms per transaction, 1.3 s in line, at 100
concurrent turns).

Here a write is a plain function of a synchronous connection (a *write op*). Callers queue ops; the
writer takes every op waiting, runs them back to back in one ``BEGIN IMMEDIATE`` transaction on its
own thread — each in a savepoint, so one that raises leaves the others' writes in — commits once,
and answers every caller. One hop per batch instead of one per statement, and one commit for all.
A caller is answered only after the commit: what it wrote is durable when it hears back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import StaticPool

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteOp = Callable[[Connection], T]

MAX_BATCH = 1000  # ops per transaction: bounds how long one commit keeps the others waiting

_Outcome = tuple[bool, Any]  # (succeeded, result or exception)


class GroupWriter:
    """One SQLite file's writer. ``await write(op)``; ``await close()`` after the last write.

    ``lock`` is the asyncio lock every other writer of this process takes (``Database.connect``):
    a batch holds it while it runs, so this process never makes SQLite's busy handler wait.
    """

    def __init__(self, url: URL, lock: asyncio.Lock, configure: Callable[[Engine], None]) -> None:
        # One connection, used only from the one thread: the pool never hands it to another.
        self._engine = create_engine(
            url.set(drivername="sqlite"),
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
        configure(self._engine)
        self._lock = lock
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="botport-db-writer")
        self._queue: list[tuple[WriteOp[Any], asyncio.Future[Any]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0  # transactions committed (for the bench and the tests)
        self.ops = 0

    @property
    def engine(self) -> Engine:
        return self._engine

    async def write(self, op: WriteOp[T]) -> T:
        """Run ``op`` in the next batch; its result, or its exception, once the batch committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((op, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain(), name="botport-db-writer")
        return await future

    async def close(self) -> None:
        """Finish the queued writes, then release the connection and the thread."""
        while self._draining is not None and not self._draining.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._draining)
        self._thread.shutdown(wait=True)
        self._engine.dispose()

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            # A caller that gave up before its batch began (a client gone) writes nothing.
            batch = [(op, future) for op, future in batch if not future.done()]
            if not batch:
                continue
            try:
                async with self._lock:
                    outcomes = await loop.run_in_executor(self._thread, self._run, [op for op, _ in batch])
            except BaseException as exc:  # BEGIN or COMMIT failed: none of the batch was written
                outcomes = [(False, exc)] * len(batch)
                if isinstance(exc, asyncio.CancelledError):
                    for _, future in batch:
                        future.cancel()
                    raise
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _run(self, ops: list[WriteOp[Any]]) -> list[_Outcome]:
        """On the writer thread: one transaction for the whole batch."""
        if len(ops) == 1:  # alone in its transaction: no savepoint needed, a raise rolls it back
            try:
                with self._engine.begin() as conn:
                    outcomes: list[_Outcome] = [(True, ops[0](conn))]
            except Exception as exc:
                outcomes = [(False, exc)]
        else:
            outcomes = []
            with self._engine.begin() as conn:
                for op in ops:
                    try:
                        with conn.begin_nested():
                            outcomes.append((True, op(conn)))
                    except Exception as exc:
                        outcomes.append((False, exc))
        self.batches += 1
        self.ops += len(ops)
        return outcomes
