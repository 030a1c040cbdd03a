"""Matching a client's replayed history to the stored conversation it continues.

An OpenAI client resends the whole history with every request. To find the conversation it
continues, ``conversations.history_hash`` is :func:`history_hash` of the conversation's
``completed`` messages, oldest first, as ``(role, content)`` pairs; NULL while there are none.
Whatever stores a message keeps it current (:func:`extend_history_hash` when a message completes,
:func:`refresh_history_hash` when the history changes otherwise). :func:`find_conversation_by_history`
looks the hash up through an index, then compares the messages themselves, so a match is exact; a
client that sends tool results back finds its paused chat by the tool call's id
(:func:`find_paused_message`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from botport.store.records import ConversationRecord, MessageRecord
from botport.store.tables import conversations, messages
from botport.store.thread import path_to, read_thread


def history_hash(turns: Sequence[tuple[str, str]]) -> str:
    """A hash chain over the turns: ``h = sha256(h_prev + "\n" + canonical JSON [role, content])``,
    starting from ``""``. A chain, so that a turn that completes at the end extends the stored hash
    in O(1) instead of reading the whole conversation again."""
    digest = ""
    for role, content in turns:
        digest = chain_hash(digest, role, content)
    return digest


def chain_hash(previous: str, role: str, content: str) -> str:
    item = json.dumps([role, content], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{previous}\n{item}".encode()).hexdigest()


def completed_turns(conn: Connection, *, conversation_id: str) -> list[tuple[str, str]]:
    """The completed messages of the branch being read, as (role, content)."""
    path = read_thread(conn, conversation_id=conversation_id).path
    return [(m.role, m.content) for m in path if m.status == "completed"]


def extend_history_hash(conn: Connection, *, message: MessageRecord) -> None:
    """``message`` just became completed: chain it onto the stored hash when it is the newest
    completed message (every turn's case); otherwise recompute the whole hash."""
    later = conn.execute(
        select(messages.c.id)
        .where(
            messages.c.conversation_id == message.conversation_id,
            messages.c.status == "completed",
            messages.c.id != message.id,
            or_(
                messages.c.created_at > message.created_at,
                and_(messages.c.created_at == message.created_at, messages.c.id > message.id),
            ),
        )
        .limit(1)
    )
    leaf = conn.scalar(select(conversations.c.leaf_id).where(conversations.c.id == message.conversation_id))
    if later.first() is not None or leaf not in (None, message.id):  # not the end of the branch read
        refresh_history_hash(conn, conversation_id=message.conversation_id)
        set_message_hash(conn, message=message)
        return
    current = conn.scalar(
        select(conversations.c.history_hash).where(conversations.c.id == message.conversation_id)
    )
    digest = chain_hash(current or "", message.role, message.content)
    conn.execute(
        update(conversations).where(conversations.c.id == message.conversation_id).values(history_hash=digest)
    )
    conn.execute(update(messages).where(messages.c.id == message.id).values(history_hash=digest))


def set_message_hash(conn: Connection, *, message: MessageRecord) -> None:
    """Store the message's own history hash: over its branch's completed messages up to it (None when
    it is not completed). Its descendants keep theirs: a stale one only makes a lookup miss."""
    digest = None
    if message.status == "completed":
        path = path_to(conn, conversation_id=message.conversation_id, message_id=message.id)
        digest = history_hash([(m.role, m.content) for m in path if m.status == "completed"])
    conn.execute(update(messages).where(messages.c.id == message.id).values(history_hash=digest))


def refresh_history_hash(conn: Connection, *, conversation_id: str) -> None:
    turns = completed_turns(conn, conversation_id=conversation_id)
    conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(history_hash=history_hash(turns) if turns else None)
    )


async def find_conversation_by_history(
    conn: AsyncConnection, *, owner: str, bot: str, turns: Sequence[tuple[str, str]]
) -> ConversationRecord | None:
    """The owner's most recently active conversation with ``bot`` whose completed messages, in
    order, are exactly ``turns`` (role, content). An empty history matches nothing."""
    if not turns:
        return None
    wanted = [(role, content) for role, content in turns]
    candidates = (
        (
            await conn.execute(
                select(conversations)
                .where(
                    conversations.c.owner == owner,
                    conversations.c.bot == bot,
                    conversations.c.history_hash == history_hash(wanted),
                )
                .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
                .limit(5)
            )
        )
        .mappings()
        .all()
    )
    for row in candidates:
        if await conn.run_sync(completed_turns, conversation_id=row["id"]) == wanted:
            return ConversationRecord.from_row(row)
    return None


async def find_branch_point(
    conn: AsyncConnection, *, owner: str, bot: str, turns: Sequence[tuple[str, str]]
) -> MessageRecord | None:
    """The owner's newest message (in a conversation with ``bot``) whose branch's completed messages up
    to it are exactly ``turns``: where a client's history leaves a stored conversation (the client
    edited an earlier question, or asks for another answer). None for an empty history."""
    if not turns:
        return None
    wanted = [(role, content) for role, content in turns]
    rows = (
        await conn.execute(
            select(messages)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(
                conversations.c.owner == owner,
                conversations.c.bot == bot,
                messages.c.history_hash == history_hash(wanted),
            )
            .order_by(messages.c.created_at.desc(), messages.c.id.desc())
            .limit(5)
        )
    ).mappings()
    for row in list(rows):
        message = MessageRecord.from_row(row)
        path = await conn.run_sync(path_to, conversation_id=message.conversation_id, message_id=message.id)
        if [(m.role, m.content) for m in path if m.status == "completed"] == wanted:
            return message
    return None


async def find_paused_message(
    conn: AsyncConnection, *, owner: str, tool_call_id: str, scan: int = 50
) -> MessageRecord | None:
    """The owner's ``requires_action`` message that asked for ``tool_call_id`` (the OpenAI edge
    finds the paused chat by the ids its client echoes back). Looks at the ``scan`` newest ones."""
    rows = (
        await conn.execute(
            select(messages)
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(conversations.c.owner == owner, messages.c.status == "requires_action")
            .order_by(messages.c.created_at.desc(), messages.c.id.desc())
            .limit(scan)
        )
    ).mappings()
    for row in rows:
        record = MessageRecord.from_row(row)
        if any(call.get("id") == tool_call_id for call in record.tool_calls or ()):
            return record
    return None
