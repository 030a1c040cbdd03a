"""Switching between versions of a message (the page's ‹ 2/3 ›), and where each branch's Coze
conversation is kept.

Coze knows one line of messages per conversation, so a branch lives in a Coze conversation of its own:
a new branch's first turn starts one, seeded with the branch's history (:mod:`botport.chat.branches`).
The conversation row holds the Coze conversation of the branch being read; a branch that is left keeps
its own on its newest message (``messages.coze_conversation_id``), so coming back continues it.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from botport.store.history import history_hash
from botport.store.records import ConversationRecord, MessageRecord
from botport.store.tables import conversations, messages
from botport.store.thread import Thread, conversation_rows, newest_leaf, path_of, read_thread


class NotInConversation(Exception):
    """No such message in this conversation."""


class TurnRunning(Exception):
    """An answer is being written: the branch cannot change under it."""


def remember_coze_conversation(conn: Connection, *, conversation: ConversationRecord) -> None:
    """The branch being read is left: keep its Coze conversation on its newest message."""
    if conversation.leaf_id and conversation.coze_conversation_id:
        conn.execute(
            update(messages)
            .where(messages.c.id == conversation.leaf_id)
            .values(coze_conversation_id=conversation.coze_conversation_id)
        )


def switch_branch(conn: Connection, *, owner: str, conversation_id: str, message_id: str) -> Thread:
    """Read the branch through ``message_id`` (its newest continuation) from now on: the page, the
    history hash and the next turn's Coze conversation follow it. A write op; raises
    :class:`NotInConversation` (also for someone else's conversation) and :class:`TurnRunning`."""
    # Locked on PostgreSQL as a turn's start locks it (SQLite's writers are serialized anyway).
    row = (
        conn.execute(
            select(conversations)
            .where(conversations.c.id == conversation_id, conversations.c.owner == owner)
            .with_for_update()
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotInConversation(conversation_id)
    conversation = ConversationRecord.from_row(row)
    rows = conversation_rows(conn, conversation_id=conversation.id)
    start = next((row for row in rows if row.id == message_id), None)
    if start is None:
        raise NotInConversation(message_id)
    if any(row.status == "streaming" for row in rows):
        raise TurnRunning(conversation.id)
    leaf = newest_leaf(rows, start)
    if leaf.id != conversation.leaf_id:
        remember_coze_conversation(conn, conversation=conversation)
        conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation.id)
            .values(
                leaf_id=leaf.id,
                coze_conversation_id=leaf.coze_conversation_id,  # None: the next turn seeds one
                history_hash=_hash_of(path_of(rows, leaf.id)),
            )
        )
    return read_thread(conn, conversation_id=conversation.id)


def _hash_of(path: list[MessageRecord]) -> str | None:
    turns = [(m.role, m.content) for m in path if m.status == "completed"]
    return history_hash(turns) if turns else None


def return_to_branch(conn: Connection, *, conversation_id: str, parent_id: str | None) -> None:
    """A turn was discarded: read the newest branch through its parent again (the one it was started
    from, unless it began a new version), with that branch's Coze conversation if it kept one."""
    rows = conversation_rows(conn, conversation_id=conversation_id)
    parent = next((row for row in rows if row.id == parent_id), None)
    roots = [row for row in rows if row.parent_id is None]
    start = parent if parent is not None else (roots[-1] if roots else None)
    leaf = newest_leaf(rows, start) if start is not None else None
    values: dict[str, object] = {"leaf_id": leaf.id if leaf else None}
    if leaf is not None and leaf.coze_conversation_id:
        values["coze_conversation_id"] = leaf.coze_conversation_id
    conn.execute(update(conversations).where(conversations.c.id == conversation_id).values(values))


def kept_coze_conversations(conn: Connection, *, conversation_id: str) -> list[str]:
    """The Coze conversations that left branches keep (to delete with the conversation)."""
    rows = conn.execute(
        select(messages.c.coze_conversation_id)
        .where(messages.c.conversation_id == conversation_id, messages.c.coze_conversation_id.is_not(None))
        .distinct()
    )
    return [coze_id for (coze_id,) in rows]
