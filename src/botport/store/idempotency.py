"""A client's Idempotency-Key: a repeated request with the same key from the same identity re-attaches
to the turn the first one started, for a day. The key is remembered in the turn's own start write
(:func:`botport.store.turns.begin_turn`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from botport.store.tables import idempotency_keys
from botport.store.types import utcnow

IDEMPOTENCY_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class IdempotentTurn:
    fingerprint: str
    conversation_id: str
    message_id: str


def find_idempotent(conn: Connection, *, owner: str, key: str) -> IdempotentTurn | None:
    row = conn.execute(
        select(
            idempotency_keys.c.fingerprint,
            idempotency_keys.c.conversation_id,
            idempotency_keys.c.message_id,
        ).where(
            idempotency_keys.c.owner == owner,
            idempotency_keys.c.key == key,
            idempotency_keys.c.created_at > utcnow() - IDEMPOTENCY_TTL,
        )
    ).first()
    return IdempotentTurn(*row) if row is not None else None


def remember_idempotent(conn: Connection, *, owner: str, key: str, turn: IdempotentTurn) -> bool:
    """Record the turn a key started; False when the key is already taken (a concurrent repeat).

    An expired record of the same key is replaced. Runs in a savepoint, so a conflict leaves the
    caller's transaction usable.
    """
    conn.execute(
        delete(idempotency_keys).where(
            idempotency_keys.c.owner == owner,
            idempotency_keys.c.key == key,
            idempotency_keys.c.created_at <= utcnow() - IDEMPOTENCY_TTL,
        )
    )
    values: dict[str, Any] = {
        "owner": owner,
        "key": key,
        "fingerprint": turn.fingerprint,
        "conversation_id": turn.conversation_id,
        "message_id": turn.message_id,
        "created_at": utcnow(),
    }
    try:
        with conn.begin_nested():
            conn.execute(insert(idempotency_keys).values(values))
    except IntegrityError:
        return False
    return True


def purge_idempotency_keys(conn: Connection) -> int:
    result = conn.execute(
        delete(idempotency_keys).where(idempotency_keys.c.created_at <= utcnow() - IDEMPOTENCY_TTL)
    )
    return result.rowcount
