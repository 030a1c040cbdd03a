"""Point reads on a SQLite file in one thread hop.

aiosqlite hops from the event loop to its thread and back for every step of a read (BEGIN, the
statement, each fetch, the end): about a millisecond for one row, more when the loop is busy. A read
op here is a plain function of a synchronous connection, run whole on a small pool of threads, each
with its own connection: one hop. In WAL mode readers never wait for the writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, Connection

T = TypeVar("T")
ReadOp = Callable[[Connection], T]

READER_THREADS = 4


class PointReader:
    def __init__(self, url: URL, configure: Callable[[Engine], None], read_only_option: str) -> None:
        self._engine = create_engine(
            url.set(drivername="sqlite"),
            pool_size=READER_THREADS,
            connect_args={"check_same_thread": False},
        )
        configure(self._engine)
        self._options: dict[str, Any] = {read_only_option: True}
        self._threads = ThreadPoolExecutor(max_workers=READER_THREADS, thread_name_prefix="botport-db-reader")

    @property
    def engine(self) -> Engine:
        return self._engine

    async def read(self, op: ReadOp[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._run, op)

    def _run(self, op: ReadOp[T]) -> T:
        with self._engine.connect() as conn:
            conn = conn.execution_options(**self._options)
            with conn.begin():
                return op(conn)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._engine.dispose()
