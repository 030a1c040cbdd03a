"""Engine URLs, SQLite settings and migrations, from a blank database on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect, text

from botport.store import Database, create_engine_for
from botport.store.db import normalize_url, sqlite_file
from botport.store.migrations import MIGRATIONS, applied_migrations, migrate
from botport.store.search import SEARCH_OBJECTS
from botport.store.tables import metadata


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///data/botport.db", "sqlite+aiosqlite:///data/botport.db"),
        ("sqlite:////abs/path/b.db", "sqlite+aiosqlite:////abs/path/b.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://u:p@db:5432/app", "postgresql+psycopg://u:***@db:5432/app"),
        ("postgres://u@db/app?sslmode=require", "postgresql+psycopg://u@db/app?sslmode=require"),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
        ("postgresql+asyncpg://u@db/app", "postgresql+asyncpg://u@db/app"),
    ],
)
def test_normalize_url(given: str, expected: str) -> None:
    assert str(normalize_url(given)) == expected


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg2://u@db/app", "mysql://u@db/app", "sqlite+pysqlite:///x"]
)
def test_synchronous_or_unknown_drivers_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        normalize_url(url)


def test_sqlite_file() -> None:
    assert sqlite_file("sqlite:///data/b.db") == Path("data/b.db")
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql://u@db/app") is None


async def test_create_engine_for_makes_the_directory(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "botport.db"
    engine = create_engine_for(f"sqlite:///{target}")
    try:
        assert target.parent.is_dir()
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        assert target.exists()
    finally:
        await engine.dispose()


async def test_sqlite_connection_settings(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    await db.start()
    try:
        async with db.connect() as conn:
            journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
            busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
        assert (journal, foreign_keys) == ("wal", 1)
        assert busy >= 1000
        assert db.backend == "sqlite"
    finally:
        await db.close()


async def test_in_memory_sqlite_keeps_its_schema_across_connections() -> None:
    db = Database("sqlite://")
    await db.start()
    try:
        async with db.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM conversations"))).scalar_one() == 0
    finally:
        await db.close()


async def test_migrations_from_blank_then_no_op(database_url: str) -> None:
    names = [name for name, _ in MIGRATIONS]
    engine = create_engine_for(database_url)
    try:
        assert await applied_migrations(engine) == []
        assert await migrate(engine) == names
        assert await migrate(engine) == []
        assert await applied_migrations(engine) == names
    finally:
        await engine.dispose()
    db = Database(database_url)
    try:
        assert await db.start() == []
    finally:
        await db.close()


async def test_a_new_step_runs_once_after_the_others(database: Database) -> None:
    calls: list[str] = []

    def _9999_extra(conn: Connection) -> None:
        calls.append("ran")
        conn.execute(text("CREATE TABLE extra_table (id INTEGER PRIMARY KEY)"))

    steps = [*MIGRATIONS, ("9999_extra", _9999_extra)]
    assert await migrate(database.engine, steps) == ["9999_extra"]
    assert await migrate(database.engine, steps) == []
    assert calls == ["ran"]
    assert (await applied_migrations(database.engine))[-1] == "9999_extra"


async def test_a_failing_step_leaves_nothing_behind(database_url: str) -> None:
    def _boom(conn: Connection) -> None:
        conn.execute(text("CREATE TABLE half_done (id INTEGER PRIMARY KEY)"))
        raise RuntimeError("step failed")

    engine = create_engine_for(database_url)
    try:
        with pytest.raises(RuntimeError, match="step failed"):
            await migrate(engine, [*MIGRATIONS, ("0002_boom", _boom)])
        assert await applied_migrations(engine) == []
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "half_done" not in names
        assert "conversations" not in names
    finally:
        await engine.dispose()


async def test_duplicate_step_names_are_refused(database: Database) -> None:
    with pytest.raises(ValueError, match="unique"):
        await migrate(database.engine, [*MIGRATIONS, MIGRATIONS[0]])


async def test_concurrent_start_migrates_once(database_url: str) -> None:
    instances = [Database(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(db.start() for db in instances))
        expected = [name for name, _ in MIGRATIONS]
        assert sorted(results) == [[], [], [], expected]
        assert await applied_migrations(instances[0].engine) == expected
    finally:
        for db in instances:
            await db.close()


def _schema(conn: Connection) -> dict[str, object]:
    inspector = inspect(conn)
    schema: dict[str, object] = {}
    for table in sorted(metadata.tables):
        schema[table] = {
            "columns": {c["name"]: c["nullable"] for c in inspector.get_columns(table)},
            "indexes": sorted(
                (tuple(str(col) for col in ix["column_names"]), bool(ix["unique"]))
                for ix in inspector.get_indexes(table)
                if not ix.get("duplicates_constraint")  # PostgreSQL lists a UNIQUE constraint's index
                and ix["name"] not in SEARCH_OBJECTS  # the search index is the backend's own (store.search)
            ),
            "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            "foreign_keys": sorted(
                (tuple(fk["constrained_columns"]), fk["referred_table"], fk["options"].get("ondelete"))
                for fk in inspector.get_foreign_keys(table)
            ),
        }
    return schema


def _expected_schema() -> dict[str, object]:
    schema: dict[str, object] = {}
    for name, table in sorted(metadata.tables.items()):
        unique_columns = sorted((c.name,) for c in table.columns if c.unique)
        schema[name] = {
            "columns": {c.name: c.nullable for c in table.columns},
            "indexes": sorted((tuple(c.name for c in ix.columns), bool(ix.unique)) for ix in table.indexes),
            "unique": unique_columns,
            "foreign_keys": sorted(
                ((fk.parent.name,), fk.column.table.name, fk.ondelete) for fk in table.foreign_keys
            ),
        }
    return schema


async def test_migrated_schema_matches_tables_module(database: Database) -> None:
    async with database.engine.connect() as conn:
        actual = await conn.run_sync(_schema)
    assert actual == _expected_schema()
