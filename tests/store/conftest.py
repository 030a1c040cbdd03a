"""Database fixtures, reusable by any test: ``database_url`` runs a test on SQLite and PostgreSQL.

- ``database_url``: parametrized ``sqlite`` (a file under tmp_path) and ``postgres`` (a fresh schema
  in the ``test`` database, dropped afterwards; marked ``postgres``).
- ``sqlite_url`` / ``postgres_url``: one backend only.
- ``database``: a started :class:`botport.store.Database` on ``database_url``.

PostgreSQL is ``postgresql://postgres@127.0.0.1:5432/test`` unless ``BOTPORT_TEST_POSTGRES_URL`` says
otherwise. If it is down, its tests fail when ``CI=true`` and are skipped otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
import redis

from botport.store import Database

POSTGRES_URL = os.environ.get("BOTPORT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BOTPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_postgres_down: str | None = None  # the connection error, once seen; saves a timeout per test


def _admin_connection() -> psycopg.Connection:
    global _postgres_down
    if _postgres_down is None:
        try:
            return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            _postgres_down = str(exc).strip() or type(exc).__name__
    message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {_postgres_down}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL whose connections use a new, empty schema (dropped after the test)."""
    schema = f"bp_test_{uuid.uuid4().hex[:16]}"
    with _admin_connection() as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield _with_search_path(POSTGRES_URL, schema)
    finally:
        with _admin_connection() as admin:
            admin.execute("SET lock_timeout = '10s'")
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in a directory that does not exist yet."""
    return f"sqlite:///{tmp_path / 'data' / 'botport.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, once per backend."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await db.start()
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """The Redis that several instances share; under CI a test fails when it is down."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        client.close()
        message = f"Redis is not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield client
    finally:
        client.close()
