"""What the store knows of running turns: their lease, their checkpoints, the orphans a dead instance
left behind, and the idempotency keys of the requests that started them.

A running turn is an assistant message with status ``streaming``. Its ``runner`` is the instance
running it and ``heartbeat_at`` the last time that instance said so (every checkpoint tick). A
``streaming`` row whose heartbeat is older than the lease belongs to a dead instance: it is
resolved as ``failed`` with the text it had (:func:`resolve_orphans`), so the conversation takes a
new turn, and the caller cancels its Coze chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from botport.store.records import MessageRecord
from botport.store.repository import refresh_history_hash
from botport.store.tables import conversations, idempotency_keys, messages
from botport.store.types import utcnow

ORPHAN_CODE = "turn_lost"
ORPHAN_MESSAGE = "The server stopped before the answer was complete."
IDEMPOTENCY_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Orphan:
    """A turn resolved as failed because its instance died; its Coze chat may still be running."""

    message_id: str
    conversation_id: str
    upstream_chat_id: str | None
    coze_conversation_id: str | None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What a running turn has so far, written at a bounded interval (never per delta)."""

    message_id: str
    conversation_id: str
    content: str
    reasoning: str
    upstream_chat_id: str | None
    coze_conversation_id: str | None


@dataclass(frozen=True, slots=True)
class IdempotentTurn:
    fingerprint: str
    conversation_id: str
    message_id: str


# --- the lease --------------------------------------------------------------------------------


async def lock_conversation(conn: AsyncConnection, conversation_id: str) -> None:
    """Serialize turn starts in one conversation: on PostgreSQL the row stays locked (``FOR UPDATE``)
    until the transaction ends; SQLite's ``BEGIN IMMEDIATE`` already serializes writers."""
    lock = select(conversations.c.id).where(conversations.c.id == conversation_id)
    if conn.dialect.name == "postgresql":
        lock = lock.with_for_update()
    await conn.execute(lock)


async def running_answer(conn: AsyncConnection, conversation_id: str) -> MessageRecord | None:
    """The answer being written in the conversation (status ``streaming``), alive or not."""
    row = (
        (
            await conn.execute(
                select(messages)
                .where(messages.c.conversation_id == conversation_id, messages.c.status == "streaming")
                .order_by(messages.c.created_at.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return MessageRecord.from_row(row) if row is not None else None


def is_alive(message: MessageRecord, lease: timedelta, now: datetime | None = None) -> bool:
    """Whether the instance running this turn has given a sign of life within the lease."""
    seen = message.heartbeat_at or message.created_at
    return seen > (now or utcnow()) - lease


async def heartbeat(conn: AsyncConnection, runner: str) -> None:
    """Every turn this instance runs is alive: one statement, however many turns there are."""
    await conn.execute(
        update(messages)
        .where(messages.c.runner == runner, messages.c.status == "streaming")
        .values(heartbeat_at=utcnow())
    )


async def checkpoint(conn: AsyncConnection, points: Sequence[Checkpoint]) -> None:
    """Write several turns' partial answers (and the Coze ids they learnt) in one transaction."""
    if not points:
        return
    now = utcnow()
    await conn.execute(
        update(messages)
        .where(messages.c.id == bindparam("b_id"), messages.c.status == "streaming")
        .values(
            content=bindparam("b_content"),
            reasoning=bindparam("b_reasoning"),
            upstream_chat_id=bindparam("b_chat"),
            heartbeat_at=bindparam("b_now"),
        ),
        [
            {
                "b_id": p.message_id,
                "b_content": p.content,
                "b_reasoning": p.reasoning,
                "b_chat": p.upstream_chat_id,
                "b_now": now,
            }
            for p in points
        ],
    )
    learnt = [p for p in points if p.coze_conversation_id]
    if learnt:
        await conn.execute(
            update(conversations)
            .where(conversations.c.id == bindparam("b_id"))
            .values(coze_conversation_id=bindparam("b_coze")),
            [{"b_id": p.conversation_id, "b_coze": p.coze_conversation_id} for p in learnt],
        )


async def resolve_orphans(
    conn: AsyncConnection,
    *,
    lease: timedelta | None,
    conversation_id: str | None = None,
) -> list[Orphan]:
    """Mark ``streaming`` answers whose instance is gone as ``failed``, keeping their text.

    ``lease=None`` takes every streaming answer (a single instance, on start: nothing else can be
    running them); otherwise only those without a heartbeat for ``lease``. Several instances may
    sweep at once: the UPDATE takes each row once.
    """
    now = utcnow()
    query = update(messages).where(messages.c.status == "streaming")
    if conversation_id is not None:
        query = query.where(messages.c.conversation_id == conversation_id)
    if lease is not None:
        cutoff = now - lease
        query = query.where(
            or_(
                messages.c.heartbeat_at < cutoff,
                and_(messages.c.heartbeat_at.is_(None), messages.c.created_at < cutoff),
            )
        )
    rows = (
        await conn.execute(
            query.values(
                status="failed",
                error_code=func.coalesce(messages.c.error_code, ORPHAN_CODE),
                error_message=func.coalesce(messages.c.error_message, ORPHAN_MESSAGE),
                updated_at=now,
            ).returning(messages.c.id, messages.c.conversation_id, messages.c.upstream_chat_id)
        )
    ).all()
    if not rows:
        return []
    coze_ids = dict(
        (
            await conn.execute(
                select(conversations.c.id, conversations.c.coze_conversation_id).where(
                    conversations.c.id.in_({row.conversation_id for row in rows})
                )
            )
        ).all()
    )
    return [
        Orphan(row.id, row.conversation_id, row.upstream_chat_id, coze_ids.get(row.conversation_id))
        for row in rows
    ]


# --- idempotency keys -------------------------------------------------------------------------


async def find_idempotent(conn: AsyncConnection, owner: str, key: str) -> IdempotentTurn | None:
    row = (
        await conn.execute(
            select(
                idempotency_keys.c.fingerprint,
                idempotency_keys.c.conversation_id,
                idempotency_keys.c.message_id,
            ).where(
                idempotency_keys.c.owner == owner,
                idempotency_keys.c.key == key,
                idempotency_keys.c.created_at > utcnow() - IDEMPOTENCY_TTL,
            )
        )
    ).first()
    return IdempotentTurn(*row) if row is not None else None


async def remember_idempotent(conn: AsyncConnection, owner: str, key: str, turn: IdempotentTurn) -> bool:
    """Record the turn a key started; False when the key is already taken (a concurrent repeat).

    An expired record of the same key is replaced. Runs in a savepoint, so a conflict leaves the
    caller's transaction usable.
    """
    await conn.execute(
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
        async with conn.begin_nested():
            await conn.execute(insert(idempotency_keys).values(values))
    except IntegrityError:
        return False
    return True


async def purge_idempotency_keys(conn: AsyncConnection) -> int:
    result = await conn.execute(
        delete(idempotency_keys).where(idempotency_keys.c.created_at <= utcnow() - IDEMPOTENCY_TTL)
    )
    return result.rowcount


# --- discarding a turn that never began -------------------------------------------------------


async def discard_turn(conn: AsyncConnection, answer_id: str, user_message_id: str | None) -> None:
    """Remove a turn Coze refused before it began (the conversation was still busy on Coze's side):
    the question and the empty answer go, with the idempotency key that pointed at them, so a retry
    starts afresh and no ``failed`` turn is stored for a refusal."""
    ids = [answer_id] + ([user_message_id] if user_message_id else [])
    conversation_id = await conn.scalar(select(messages.c.conversation_id).where(messages.c.id == answer_id))
    await conn.execute(delete(messages).where(messages.c.id.in_(ids)))
    await conn.execute(delete(idempotency_keys).where(idempotency_keys.c.message_id == answer_id))
    if conversation_id is not None:
        await refresh_history_hash(conn, conversation_id)
