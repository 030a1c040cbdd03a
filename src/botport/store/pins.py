"""Pinned conversations: the reader keeps a few at the top of the list (``conversations.pinned_at``).

Pinning changes neither ``updated_at`` nor the list's order: ``GET /api/conversations`` pages as
before (a pinned conversation is in it where its activity puts it), and the pinned ones are listed
once more, on their own, by :func:`list_pinned`, so a page can show them first.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from botport.errors import ConflictError
from botport.store.records import ConversationRecord
from botport.store.repository import find_conversation
from botport.store.tables import conversations
from botport.store.types import utcnow

MAX_PINNED = 100  # so that the pinned list is one bounded answer


def set_pinned(
    conn: Connection, *, owner: str, conversation_id: str, pinned: bool
) -> ConversationRecord | None:
    """Pin or unpin the owner's conversation (None: not found or not the owner's). Pinning a pinned
    one keeps its pin time. ConflictError when MAX_PINNED are pinned already."""
    record = find_conversation(conn, owner=owner, conversation_id=conversation_id)
    if record is None or pinned == (record.pinned_at is not None):
        return record
    if pinned:
        count = conn.scalar(
            select(func.count())
            .select_from(conversations)
            .where(conversations.c.owner == owner, conversations.c.pinned_at.is_not(None))
        )
        if (count or 0) >= MAX_PINNED:
            raise ConflictError(
                f"at most {MAX_PINNED} conversations can be pinned: unpin one first", code="too_many_pinned"
            )
    conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id, conversations.c.owner == owner)
        .values(pinned_at=utcnow() if pinned else None)
    )
    return find_conversation(conn, owner=owner, conversation_id=conversation_id)


def list_pinned(conn: Connection, *, owner: str) -> list[ConversationRecord]:
    """The owner's pinned conversations (at most MAX_PINNED), most recently active first."""
    rows = conn.execute(
        select(conversations)
        .where(conversations.c.owner == owner, conversations.c.pinned_at.is_not(None))
        .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
        .limit(MAX_PINNED)
    ).mappings()
    return [ConversationRecord.from_row(row) for row in rows]
