"""API keys: ``bp_`` + 43 random URL-safe characters. Only the key's sha256 is stored.

A key is found by its hash through a unique index, so checking one takes a single lookup and
leaks no timing about how much of a guess matched. Each key acts as the identity ``key:<id>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from botport.store.records import ApiKeyRecord, KeyQuota
from botport.store.tables import api_keys, key_usage
from botport.store.types import new_id, utcnow

KEY_PREFIX = "bp_"
SHOWN_PREFIX_CHARS = 11  # "bp_" and 8 random characters: enough to tell keys apart in a list
LAST_USED_RESOLUTION = timedelta(minutes=1)
_MAX_KEY_CHARS = 200  # anything longer is not one of ours; don't hash megabytes


class AmbiguousKeyError(ValueError):
    """A prefix given to :func:`revoke_api_key` matches more than one key."""


def hash_api_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def key_owner(key_id: str) -> str:
    """The identity that requests made with this key act as."""
    return f"key:{key_id}"


async def create_api_key(
    conn: AsyncConnection, *, name: str, quota: KeyQuota | None = None
) -> tuple[str, ApiKeyRecord]:
    """A new key: returns the plaintext (shown once, never stored) and its record."""
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = new_id()
    values: dict[str, Any] = {
        "id": key_id,
        "name": name,
        "prefix": plaintext[:SHOWN_PREFIX_CHARS],
        "key_hash": hash_api_key(plaintext),
        "owner": key_owner(key_id),
        "created_at": utcnow(),
        "last_used_at": None,
        "revoked_at": None,
        **asdict(quota or KeyQuota()),
    }
    await conn.execute(insert(api_keys).values(values))
    return plaintext, ApiKeyRecord.from_row(values)


async def list_api_keys(conn: AsyncConnection, *, include_revoked: bool = True) -> list[ApiKeyRecord]:
    """All keys, oldest first."""
    query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    rows = (await conn.execute(query)).mappings()
    return [ApiKeyRecord.from_row(row) for row in rows]


async def find_key(conn: AsyncConnection, id_or_prefix: str) -> ApiKeyRecord | None:
    """The key with this id or shown prefix; None if there is none (AmbiguousKeyError: several)."""
    query = select(api_keys).where(or_(api_keys.c.id == id_or_prefix, api_keys.c.prefix == id_or_prefix))
    rows = (await conn.execute(query)).mappings().all()
    if len(rows) > 1:
        raise AmbiguousKeyError(f"{id_or_prefix!r} matches {len(rows)} keys; use the key id")
    return ApiKeyRecord.from_row(rows[0]) if rows else None


async def set_key_quota(conn: AsyncConnection, *, key_id: str, quota: KeyQuota) -> None:
    await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**asdict(quota)))


# --- usage -------------------------------------------------------------------------------------


def usage_day(at: datetime | None = None) -> str:
    """The UTC day a use counts for: quotas per day start at midnight UTC."""
    return (at or utcnow()).astimezone(UTC).strftime("%Y-%m-%d")


def seconds_to_next_day(at: datetime | None = None) -> float:
    now = (at or utcnow()).astimezone(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return (midnight - now).total_seconds()


def _usage_upsert(dialect: Any) -> Any:
    """Built once per backend (an end of turn runs it: no statement building on that path)."""
    statement = dialect.insert(key_usage).values(
        key_id=bindparam("b_key"), day=bindparam("b_day"), turns=1, tokens=bindparam("b_tokens")
    )
    return statement.on_conflict_do_update(
        index_elements=[key_usage.c.key_id, key_usage.c.day],
        set_={"turns": key_usage.c.turns + 1, "tokens": key_usage.c.tokens + statement.excluded.tokens},
    )


_USAGE_UPSERT = {"postgresql": _usage_upsert(postgresql), "sqlite": _usage_upsert(sqlite)}


def add_key_usage(conn: Connection, *, key_id: str, tokens: int) -> None:
    """Count one turn that reached Coze, and its tokens, for today (a write op: one statement)."""
    statement = _USAGE_UPSERT["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    conn.execute(statement, {"b_key": key_id, "b_day": usage_day(), "b_tokens": tokens})


def usage_today(conn: Connection, key_id: str) -> tuple[int, int]:
    """(turns, tokens) the key used today."""
    query = select(key_usage.c.turns, key_usage.c.tokens).where(
        key_usage.c.key_id == key_id, key_usage.c.day == usage_day()
    )
    row = conn.execute(query).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def usage_by_key(conn: AsyncConnection) -> dict[str, tuple[int, int, int, int]]:
    """Per key id: (turns today, tokens today, turns in all, tokens in all)."""
    today = usage_day()
    query = select(
        key_usage.c.key_id,
        func.sum(case((key_usage.c.day == today, key_usage.c.turns), else_=0)),
        func.sum(case((key_usage.c.day == today, key_usage.c.tokens), else_=0)),
        func.sum(key_usage.c.turns),
        func.sum(key_usage.c.tokens),
    ).group_by(key_usage.c.key_id)
    rows = (await conn.execute(query)).all()
    return {row[0]: (int(row[1] or 0), int(row[2] or 0), int(row[3] or 0), int(row[4] or 0)) for row in rows}


async def revoke_api_key(conn: AsyncConnection, id_or_prefix: str) -> ApiKeyRecord | None:
    """Revoke the key with this id or shown prefix; None if there is none.

    Revoking a revoked key changes nothing. Raises :class:`AmbiguousKeyError` if a prefix matches
    several keys.
    """
    rows = (
        (
            await conn.execute(
                select(api_keys).where(or_(api_keys.c.id == id_or_prefix, api_keys.c.prefix == id_or_prefix))
            )
        )
        .mappings()
        .all()
    )
    if not rows:
        return None
    if len(rows) > 1:
        raise AmbiguousKeyError(f"{id_or_prefix!r} matches {len(rows)} keys; use the key id")
    record = ApiKeyRecord.from_row(rows[0])
    if record.revoked_at is not None:
        return record
    now = utcnow()
    await conn.execute(update(api_keys).where(api_keys.c.id == record.id).values(revoked_at=now))
    return ApiKeyRecord.from_row({**rows[0], "revoked_at": now})


async def authenticate_api_key(conn: AsyncConnection, plaintext: str) -> ApiKeyRecord | None:
    """The record of a valid, unrevoked key, or None. Records use at most once a minute."""
    record = await lookup_api_key(conn, plaintext)
    if record is not None and use_is_stale(record):
        record = await record_key_use(conn, record)
    return record


_BY_HASH = select(api_keys).where(api_keys.c.key_hash == bindparam("b_hash"))  # built once: every request


def find_api_key(conn: Connection, plaintext: str) -> ApiKeyRecord | None:
    """The record of a valid, unrevoked key, or None; reads only."""
    if not plaintext.startswith(KEY_PREFIX) or len(plaintext) > _MAX_KEY_CHARS:
        return None
    digest = hash_api_key(plaintext)
    row = conn.execute(_BY_HASH, {"b_hash": digest}).mappings().first()
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        return None
    record = ApiKeyRecord.from_row(row)
    return None if record.revoked_at is not None else record


async def lookup_api_key(conn: AsyncConnection, plaintext: str) -> ApiKeyRecord | None:
    return await conn.run_sync(find_api_key, plaintext)


def use_is_stale(record: ApiKeyRecord) -> bool:
    """Whether ``last_used_at`` is older than its resolution (a write is due)."""
    return record.last_used_at is None or utcnow() - record.last_used_at >= LAST_USED_RESOLUTION


async def record_key_use(conn: AsyncConnection, record: ApiKeyRecord) -> ApiKeyRecord:
    """Set ``last_used_at`` to now, unless another request just did."""
    now = utcnow()
    # The condition repeats in SQL so that concurrent requests don't all write.
    stale = now - LAST_USED_RESOLUTION
    await conn.execute(
        update(api_keys)
        .where(
            api_keys.c.id == record.id,
            or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at <= stale),
        )
        .values(last_used_at=now)
    )
    return replace(record, last_used_at=now)
