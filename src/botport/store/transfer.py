"""Storing an imported conversation (an export of botport's, see :mod:`botport.api.transfer`).

An imported conversation is the caller's new conversation with the file's messages, in the file's
order and with its times; it has no Coze conversation yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlalchemy.engine import Connection

from botport.store.records import ConversationRecord, MessageRole, MessageStatus
from botport.store.repository import find_conversation, insert_conversation, insert_message
from botport.store.tables import conversations, messages

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class ImportedMessage:
    role: MessageRole
    content: str
    created_at: datetime
    reasoning: str = ""
    status: MessageStatus = "completed"
    follow_ups: tuple[str, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


def import_conversation(
    conn: Connection,
    *,
    owner: str,
    bot: str,
    title: str,
    created_at: datetime,
    items: Sequence[ImportedMessage],
) -> ConversationRecord:
    """Create the owner's conversation with these messages (a write op). Times that do not go
    forward are moved one microsecond past the one before, so the stored order is the file's."""
    conversation = insert_conversation(conn, owner=owner, bot=bot, title=title)
    times: list[dict[str, object]] = []
    last = None
    for item in items:
        message = insert_message(
            conn,
            conversation_id=conversation.id,
            role=item.role,
            content=item.content,
            reasoning=item.reasoning,
            status=item.status,
            follow_ups=item.follow_ups,
            error_code=item.error_code,
            error_message=item.error_message,
            input_tokens=item.input_tokens,
            output_tokens=item.output_tokens,
            total_tokens=item.total_tokens,
        )
        at = item.created_at if last is None or item.created_at > last else last + _TICK
        times.append({"b_id": message.id, "b_at": at})
        last = at
    if times:
        conn.execute(
            update(messages)
            .where(messages.c.id == bindparam("b_id"))
            .values(created_at=bindparam("b_at"), updated_at=bindparam("b_at")),
            times,
        )
    first = min(created_at, items[0].created_at) if items else created_at
    conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation.id)
        .values(created_at=first, updated_at=last or first)
    )
    record = find_conversation(conn, owner=owner, conversation_id=conversation.id)
    assert record is not None
    return record
