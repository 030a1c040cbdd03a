"""Column types and value helpers shared by the tables and the migrations.

Timestamps are timezone-aware UTC everywhere in Python. SQLite has no time zone type, so
:class:`UTCDateTime` stores naive UTC there (SQLAlchemy's fixed-width text, which sorts correctly)
and attaches UTC again when reading; PostgreSQL stores ``timestamptz``.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A ``DateTime`` that only accepts aware datetimes and always returns UTC ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use an aware datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_clock_lock = threading.Lock()
_last_now = datetime.min.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """The current UTC time, strictly increasing within this process.

    Rows are ordered by timestamp; a coarse clock (Windows ticks ~15 ms) or a clock step backwards
    would otherwise give a user message and its answer the same time and an unstable order.
    """
    global _last_now
    with _clock_lock:
        now = datetime.now(UTC)
        if now <= _last_now:
            now = _last_now + timedelta(microseconds=1)
        _last_now = now
        return now


def new_id() -> str:
    """A random 32-character hex id (uuid4)."""
    return uuid.uuid4().hex
