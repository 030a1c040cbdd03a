"""Point reads on a SQLite file without waiting on a thread.

aiosqlite hops from the event loop to its thread and back for every step of a read (BEGIN, the
statement, each fetch, the end): about a millisecond for one row, more when the loop is busy, and a
thread fights the loop for the GIL besides. A read op here is a plain function of a synchronous
connection. It runs on the loop's own thread (a point read takes tens of microseconds; in WAL mode a
reader never waits for the writer). In the rare case SQLite says busy (another connection is
recovering or resetting the WAL), the read runs again on a thread of its own connection, which may wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

T = TypeVar("T")
ReadOp = Callable[[Connection], T]

READER_THREADS = 2


class PointReader:
    def __init__(self, url: URL, configure: Callable[[Engine], None], read_only_option: str) -> None:
        url = url.set(drivername="sqlite")
        self._options: dict[str, Any] = {read_only_option: True}
        # On the loop's thread: one connection that never waits for a lock.
        self._here = create_engine(url, poolclass=StaticPool)
        configure(self._here)
        event.listen(self._here, "connect", _never_wait)
        self._conn: Connection | None = None
        # The fallback: connections that may wait, on threads.
        self._there = create_engine(url, pool_size=READER_THREADS, connect_args={"check_same_thread": False})
        configure(self._there)
        self._threads = ThreadPoolExecutor(max_workers=READER_THREADS, thread_name_prefix="botport-db-reader")
        self.fallbacks = 0  # reads that had to go to a thread (for the tests)

    @property
    def engines(self) -> list[Engine]:
        return [self._here, self._there]

    async def read(self, op: ReadOp[T]) -> T:
        if self._conn is None:
            self._conn = self._here.connect().execution_options(**self._options)
        try:
            with self._conn.begin():
                return op(self._conn)
        except OperationalError as exc:
            if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
                raise
        self.fallbacks += 1
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._run_there, op)

    def _run_there(self, op: ReadOp[T]) -> T:
        with self._there.connect() as conn:
            conn = conn.execution_options(**self._options)
            with conn.begin():
                return op(conn)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._threads.shutdown(wait=True)
        self._here.dispose()
        self._there.dispose()


def _never_wait(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")
    finally:
        cursor.close()
