"""Conversations and messages: plain functions over an open connection (one transaction). Every
argument after the connection is a keyword: ``get_conversation(conn, owner=..., conversation_id=...)``.

Most are async, over an ``AsyncConnection``; the synchronous ones (``insert_conversation``,
``insert_message``) are write ops for :meth:`botport.store.db.Database.write`, which the async ones
reuse through ``run_sync``.

Owner checks live here: :func:`get_conversation` and friends take the caller's identity and treat
someone else's conversation as missing. Functions that take only a conversation or message id
(:func:`list_messages`, :func:`add_message`, ...) trust the caller to have checked ownership first.

Storing a message keeps the conversation's history hash current (:mod:`botport.store.history`):
whenever a message's status changes or a completed message changes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypedDict, Unpack

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from botport.errors import BadRequestError
from botport.store.history import extend_history_hash, refresh_history_hash, set_message_hash
from botport.store.records import (
    MESSAGE_ROLES,
    MESSAGE_STATUSES,
    ConversationRecord,
    MessageRecord,
    MessageRole,
    MessageStatus,
    Rating,
)
from botport.store.tables import conversations, messages
from botport.store.thread import read_thread
from botport.store.types import new_id, utcnow


class ConversationPage(NamedTuple):
    items: list[ConversationRecord]
    next_cursor: str | None  # pass as ``before`` for the next (older) page; None: no more


class NewMessageFields(TypedDict, total=False):
    """Optional columns of a new message (``id``, ``conversation_id`` and ``role`` are fixed)."""

    reasoning: str
    status: MessageStatus
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    upstream_chat_id: str | None
    upstream_message_id: str | None
    logid: str | None
    follow_ups: Sequence[str]
    error_code: str | None
    error_message: str | None
    tool_calls: list[dict[str, Any]] | None
    runner: str | None
    heartbeat_at: datetime | None
    last_seq: int | None
    parent_id: str | None
    coze_conversation_id: str | None
    history_hash: str | None


class MessageFields(NewMessageFields, total=False):
    """The message columns :func:`update_message` may change."""

    content: str


_MESSAGE_FIELDS = MessageFields.__optional_keys__


# --- conversations ----------------------------------------------------------------------------


_INSERT_CONVERSATION = insert(conversations)  # built once (see botport.store.turns)


def insert_conversation(
    conn: Connection, *, owner: str, bot: str, title: str = "", conversation_id: str | None = None
) -> ConversationRecord:
    """Create a conversation (a write op: see :meth:`botport.store.db.Database.write`)."""
    now = utcnow()
    values: dict[str, Any] = {
        "id": conversation_id or new_id(),
        "owner": owner,
        "bot": bot,
        "title": title,
        "coze_conversation_id": None,
        "history_hash": None,
        "created_at": now,
        "updated_at": now,
        "leaf_id": None,
    }
    conn.execute(_INSERT_CONVERSATION, values)
    return ConversationRecord.from_row(values)


async def create_conversation(
    conn: AsyncConnection, *, owner: str, bot: str, title: str = ""
) -> ConversationRecord:
    return await conn.run_sync(insert_conversation, owner=owner, bot=bot, title=title)


def find_conversation(conn: Connection, *, owner: str, conversation_id: str) -> ConversationRecord | None:
    """The conversation, or None if there is none with this id or it belongs to someone else."""
    query = select(conversations).where(conversations.c.id == conversation_id, conversations.c.owner == owner)
    row = conn.execute(query).mappings().first()
    return ConversationRecord.from_row(row) if row is not None else None


async def get_conversation(
    conn: AsyncConnection, *, owner: str, conversation_id: str
) -> ConversationRecord | None:
    """The conversation, or None if there is none with this id or it belongs to someone else."""
    return await conn.run_sync(find_conversation, owner=owner, conversation_id=conversation_id)


async def list_conversations(
    conn: AsyncConnection, *, owner: str, limit: int = 20, before: str | None = None, bot: str | None = None
) -> ConversationPage:
    """The owner's conversations, most recently active first; ``before`` is a previous ``next_cursor``.

    Raises ``BadRequestError`` for a cursor this function did not make.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = select(conversations).where(conversations.c.owner == owner)
    if bot is not None:
        query = query.where(conversations.c.bot == bot)
    if before is not None:
        updated_at, last_id = _decode_cursor(before)
        query = query.where(
            or_(
                conversations.c.updated_at < updated_at,
                and_(conversations.c.updated_at == updated_at, conversations.c.id < last_id),
            )
        )
    query = query.order_by(conversations.c.updated_at.desc(), conversations.c.id.desc()).limit(limit + 1)
    rows = (await conn.execute(query)).mappings().all()
    items = [ConversationRecord.from_row(row) for row in rows[:limit]]
    next_cursor = _encode_cursor(items[-1]) if len(rows) > limit else None
    return ConversationPage(items, next_cursor)


# "<microseconds since the epoch>.<id>": every string of this form is a cursor (the OpenAPI document
# says so), so a schema-valid one is never refused.
CURSOR_PATTERN = r"^[0-9]{1,16}\.[0-9a-f]{1,32}$"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _encode_cursor(last: ConversationRecord) -> str:
    micros = (last.updated_at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{last.id}"


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    if re.fullmatch(CURSOR_PATTERN, cursor) is None:
        raise BadRequestError("invalid paging cursor")
    micros, _, last_id = cursor.partition(".")
    return _EPOCH + timedelta(microseconds=int(micros)), last_id


async def rename_conversation(
    conn: AsyncConnection, *, owner: str, conversation_id: str, title: str
) -> ConversationRecord | None:
    """Set the title (None: not found or not the owner's). Does not change ``updated_at``."""
    result = await conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id, conversations.c.owner == owner)
        .values(title=title)
    )
    if result.rowcount == 0:
        return None
    return await get_conversation(conn, owner=owner, conversation_id=conversation_id)


async def delete_conversation(conn: AsyncConnection, *, owner: str, conversation_id: str) -> bool:
    """Delete the conversation and its messages; False if not found or not the owner's."""
    result = await conn.execute(
        delete(conversations).where(conversations.c.id == conversation_id, conversations.c.owner == owner)
    )
    return result.rowcount > 0


async def set_coze_conversation_id(
    conn: AsyncConnection, *, conversation_id: str, coze_conversation_id: str
) -> None:
    await conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(coze_conversation_id=coze_conversation_id)
    )


async def touch_conversation(conn: AsyncConnection, *, conversation_id: str) -> None:
    """Mark the conversation as active now (it moves to the top of the list)."""
    await conn.execute(
        update(conversations).where(conversations.c.id == conversation_id).values(updated_at=utcnow())
    )


async def find_conversation_by_title(
    conn: AsyncConnection, *, owner: str, bot: str, title: str
) -> ConversationRecord | None:
    """The owner's most recently active conversation with this bot and title."""
    row = (
        (
            await conn.execute(
                select(conversations)
                .where(
                    conversations.c.owner == owner, conversations.c.bot == bot, conversations.c.title == title
                )
                .order_by(conversations.c.updated_at.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return ConversationRecord.from_row(row) if row is not None else None


# --- messages ---------------------------------------------------------------------------------


def new_message_values(
    conversation_id: str, role: MessageRole, content: str = "", **fields: Unpack[NewMessageFields]
) -> dict[str, Any]:
    """The row of a new message (status ``completed`` unless given), created now."""
    if role not in MESSAGE_ROLES:
        raise ValueError(f"unknown message role {role!r}")
    _check_fields(fields)
    now = utcnow()
    values: dict[str, Any] = {
        "id": new_id(),
        "conversation_id": conversation_id,
        "role": role,
        "content": content,
        "reasoning": "",
        "status": "completed",
        "input_tokens": None,
        "output_tokens": None,
        "total_tokens": None,
        "upstream_chat_id": None,
        "logid": None,
        "follow_ups": [],
        "error_code": None,
        "error_message": None,
        "tool_calls": None,
        "runner": None,
        "heartbeat_at": None,
        "last_seq": None,
        "upstream_message_id": None,
        "feedback": None,
        "feedback_comment": None,
        "parent_id": None,
        "coze_conversation_id": None,
        "history_hash": None,
        **fields,
        "created_at": now,
        "updated_at": now,
    }
    values["follow_ups"] = list(values["follow_ups"])
    return values


def insert_message(
    conn: Connection,
    *,
    conversation_id: str,
    role: MessageRole,
    content: str = "",
    **fields: Unpack[NewMessageFields],
) -> MessageRecord:
    """Store a message (status ``completed`` unless given) at the end of the branch being read, and
    touch its conversation (a write op)."""
    if "parent_id" not in fields:
        # FOR UPDATE: concurrent writers append one after another, not all after the same leaf.
        leaf = select(conversations.c.leaf_id).where(conversations.c.id == conversation_id).with_for_update()
        fields["parent_id"] = conn.scalar(leaf)
    values = new_message_values(conversation_id, role, content, **fields)
    conn.execute(insert(messages).values(values))
    conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(updated_at=values["created_at"], leaf_id=values["id"])
    )
    record = MessageRecord.from_row(values)
    if record.status == "completed":
        extend_history_hash(conn, message=record)
    return record


async def add_message(
    conn: AsyncConnection,
    *,
    conversation_id: str,
    role: MessageRole,
    content: str = "",
    **fields: Unpack[NewMessageFields],
) -> MessageRecord:
    """Store a message (status ``completed`` unless given) and touch its conversation."""

    def op(sync: Connection) -> MessageRecord:
        return insert_message(sync, conversation_id=conversation_id, role=role, content=content, **fields)

    return await conn.run_sync(op)


async def update_message(
    conn: AsyncConnection, *, message_id: str, **fields: Unpack[MessageFields]
) -> MessageRecord | None:
    """Change the given fields (and ``updated_at``); None if there is no such message."""
    _check_fields(fields)
    before = await get_message(conn, message_id=message_id)
    if before is None:
        return None
    values: dict[str, Any] = {**fields, "updated_at": utcnow()}
    if "follow_ups" in values:
        values["follow_ups"] = list(values["follow_ups"])
    await conn.execute(update(messages).where(messages.c.id == message_id).values(values))
    record = await get_message(conn, message_id=message_id)
    assert record is not None
    was_completed, is_completed = before.status == "completed", record.status == "completed"
    if is_completed and not was_completed:
        await conn.run_sync(extend_history_hash, message=record)
    elif was_completed and (
        not is_completed or (before.role, before.content) != (record.role, record.content)
    ):
        await conn.run_sync(refresh_history_hash, conversation_id=record.conversation_id)
        await conn.run_sync(set_message_hash, message=record)
    return record


def _check_fields(fields: NewMessageFields | MessageFields) -> None:
    unknown = set(fields) - _MESSAGE_FIELDS
    if unknown:
        raise ValueError(f"unknown message fields: {', '.join(sorted(unknown))}")
    if "status" in fields and fields["status"] not in MESSAGE_STATUSES:
        raise ValueError(f"unknown message status {fields['status']!r}")


async def get_message(conn: AsyncConnection, *, message_id: str) -> MessageRecord | None:
    row = (await conn.execute(select(messages).where(messages.c.id == message_id))).mappings().first()
    return MessageRecord.from_row(row) if row is not None else None


async def list_messages(conn: AsyncConnection, *, conversation_id: str) -> list[MessageRecord]:
    """The messages of the branch being read, oldest first (:mod:`botport.store.branches`)."""
    return (await conn.run_sync(read_thread, conversation_id=conversation_id)).path


def rate_answer(
    conn: Connection, *, conversation_id: str, message_id: str, rating: Rating | None, comment: str | None
) -> MessageRecord | None:
    """Set the rating of a completed answer of the conversation, or remove it (``rating`` None; the
    comment goes with it). Neither ``updated_at`` nor the history changes. Returns the message as it
    is now (a message that is not a completed answer is left as it was: the caller refuses it), or
    None when the conversation has no such message. A write op."""
    here = (messages.c.id == message_id, messages.c.conversation_id == conversation_id)
    conn.execute(
        update(messages)
        .where(*here, messages.c.role == "assistant", messages.c.status == "completed")
        .values(feedback=rating, feedback_comment=comment if rating else None)
    )
    row = conn.execute(select(messages).where(*here)).mappings().first()
    return MessageRecord.from_row(row) if row is not None else None
