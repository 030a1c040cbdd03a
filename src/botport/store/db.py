"""The database: engine construction from user-friendly URLs, and the :class:`Database` the app owns.

URLs:

- ``sqlite:///path/to/file.db`` (or ``sqlite+aiosqlite://...``): SQLite through aiosqlite, with WAL
  journaling, foreign keys on and a busy timeout. ``sqlite://`` is an in-memory database.
- ``postgresql://...`` or ``postgres://...`` (or ``postgresql+psycopg://...``): PostgreSQL through
  psycopg 3. Query parameters go to libpq, e.g. ``?options=-csearch_path%3Dmyschema``.
- Other async drivers (``postgresql+asyncpg``) are passed through; synchronous drivers are refused.

Use :meth:`Database.connect` for one short transaction; never hold it across a streamed turn.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from botport.errors import BadRequestError
from botport.private_files import private_dir, private_file
from botport.store.migrations import migrate
from botport.store.reader import PointReader, ReadOp
from botport.store.writer import GroupWriter, T, WriteOp

SQLITE_BUSY_TIMEOUT_MS = 15_000

_ASYNC_DRIVERS = {"sqlite+aiosqlite", "postgresql+psycopg", "postgresql+psycopg_async", "postgresql+asyncpg"}


def normalize_url(url: str) -> URL:
    """The SQLAlchemy async URL for a user-friendly one (see the module docstring)."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if driver in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if driver in _ASYNC_DRIVERS:
        return parsed
    raise ValueError(
        f"unsupported database URL scheme {driver!r}: use sqlite:///path or postgresql://user@host/db"
    )


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL, or None for another backend or an in-memory database."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_engine_for(url: str, *, create_dirs: bool = True) -> AsyncEngine:
    """An async engine for ``url``; for a SQLite file, also creates its directory (unless told not to)."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, create_dirs=create_dirs)
    return create_async_engine(parsed, pool_pre_ping=True)


def _sqlite_engine(url: URL, *, create_dirs: bool) -> AsyncEngine:
    path = sqlite_file(url)
    options: dict[str, Any] = {}
    if path is None:
        # One shared connection, or each connection would see its own empty in-memory database.
        options["poolclass"] = StaticPool
    elif create_dirs:
        private_dir(path.parent)
    engine = create_async_engine(url, **options)
    configure_sqlite(engine.sync_engine)
    return engine


def configure_sqlite(engine: Engine) -> None:
    """Pragmas on every new connection, and ``BEGIN IMMEDIATE`` for write transactions."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit BEGIN would defer the write lock; we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching a new file to WAL needs a lock another process may hold.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # In WAL mode, NORMAL makes a commit durable against a crash of the process (kill -9,
            # OOM: the commit is in the WAL file, the OS writes it out) but not against a power loss
            # or a kernel crash, which can lose the last commits since the WAL was last synced —
            # never corrupt the file. FULL would add an fsync to every commit. See docs/performance.md.
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so a transaction waits (busy_timeout) for another
        # writer instead of failing with SQLITE_BUSY when it later tries to write. A read-only
        # transaction (Database.read) takes no lock: in WAL mode readers never wait.
        read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


READ_ONLY_OPTION = "botport_read_only"


def refuse_nul_text(engine: Engine) -> None:
    """A NUL character in a text parameter is refused (400) before it reaches the database, on every
    backend alike: PostgreSQL cannot take one in text (it was a 500 wherever a client's string — a
    path id, a cursor, a body field — reached a query). Text from Coze is cleaned before (NUL → U+FFFD)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _check(_conn: Any, _cursor: Any, _statement: str, parameters: Any, *_: Any) -> None:
        rows = parameters if isinstance(parameters, list) else [parameters]
        for row in rows:
            values = row.values() if isinstance(row, dict) else row or ()
            for value in values:
                if isinstance(value, str) and "\x00" in value:
                    raise BadRequestError("the request holds a NUL character (U+0000)", code="invalid_text")


_wal_switch = threading.Lock()


def _prepare_sqlite_file(path: Path) -> None:
    """Create the folder and put the file in WAL mode once, before the pool opens connections.

    Switching the journal mode is the one step SQLite does not retry on its busy handler: several
    engines opening a new file at once would get "database is locked" at once. Done here, under a
    lock and with a short retry, every later connection finds the file already in WAL.
    """
    private_dir(path.parent)
    private_file(path)  # before SQLite creates it with the umask's mode (0644, often)
    with _wal_switch:
        for attempt in range(100):
            conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
            finally:
                conn.close()
            time.sleep(0.05)


class Database:
    """Owns the engine. ``await start()`` migrates, ``await close()`` releases the connections.

    ``write(op)`` runs a write op (a function of a synchronous connection) and is what the hot
    path uses: on a SQLite file, many callers' ops share one transaction on the writer's thread
    (:mod:`botport.store.writer`); elsewhere each runs in a transaction of its own. ``connect()``
    is an async write transaction for the rest, ``read()`` a read-only one. On SQLite, writers of
    this process queue on an asyncio lock before they ask SQLite for its write lock: SQLite's own
    busy handler sleeps in steps of up to 100 ms, which under load costs far more than waiting in line.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine_for(url, create_dirs=False)
        self._write_lock = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        self.writer: GroupWriter | None = None
        self.reader: PointReader | None = None
        if self._write_lock is not None and sqlite_file(self.engine.url) is not None:
            self.writer = GroupWriter(self.engine.url, self._write_lock, configure_sqlite)
            self.reader = PointReader(self.engine.url, configure_sqlite, READ_ONLY_OPTION)
        for engine in self.sync_engines:
            refuse_nul_text(engine)

    @property
    def sync_engines(self) -> list[Engine]:
        """Every engine that talks to the database (to listen to their events: the SQL counters)."""
        engines = [self.engine.sync_engine]
        if self.writer is not None and self.reader is not None:
            engines += [self.writer.engine, *self.reader.engines]
        return engines

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    async def start(self) -> list[str]:
        """Create the SQLite directory if needed, then apply pending migrations (returns their names)."""
        path = sqlite_file(self.engine.url)
        if path is not None:
            await asyncio.to_thread(_prepare_sqlite_file, path)
        return await migrate(self.engine)

    async def close(self) -> None:
        if self.writer is not None:
            await self.writer.close()
        if self.reader is not None:
            self.reader.close()
        await self.engine.dispose()

    async def write(self, op: WriteOp[T]) -> T:
        """Run ``op`` in a write transaction (batched with others' on a SQLite file); its result
        once committed. ``op`` raising rolls back its own writes only."""
        if self.writer is not None:
            return await self.writer.write(op)
        async with self.connect() as conn:
            return await conn.run_sync(op)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction: committed when the block ends, rolled back if it raises.
        Do not open another ``connect()`` inside it."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    async def read_op(self, op: ReadOp[T]) -> T:
        """Run ``op`` (a function of a synchronous connection) in a read-only transaction: for the
        reads on the path of a request, in one thread hop on a SQLite file."""
        if self.reader is not None:
            return await self.reader.read(op)
        async with self.read() as conn:
            return await conn.run_sync(op)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """One read-only transaction (a consistent snapshot); it must not write."""
        async with self.engine.connect() as conn:
            await conn.execution_options(**{READ_ONLY_OPTION: True})
            async with conn.begin():
                yield conn
