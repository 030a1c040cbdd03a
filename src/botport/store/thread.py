"""A conversation's messages form a tree: each message has a parent (``parent_id``; None for the first),
and messages with the same parent are versions of one another — an edited question, a regenerated
answer. The reader is on one branch, the path from the first message to ``conversations.leaf_id``;
everything that reads "the conversation" (the page, the history hash, the Coze replay) reads that path.

Reading a thread loads the conversation's rows once and walks the parents in memory: a conversation
holds hundreds of messages, not millions, and this is what listing it did already.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from botport.store.records import MessageRecord
from botport.store.tables import conversations, messages

_ROWS = (
    select(messages)
    .where(messages.c.conversation_id == bindparam("b_id"))
    .order_by(messages.c.created_at, messages.c.id)
)
_LEAF = select(conversations.c.leaf_id).where(conversations.c.id == bindparam("b_id"))


@dataclass(frozen=True, slots=True)
class Thread:
    """The branch being read (``path``, oldest first) and, for each message on it, the ids of its
    versions in the order they were written (itself included; one id: it has no other version)."""

    path: list[MessageRecord]
    versions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    everything: list[MessageRecord] = field(default_factory=list)  # every branch's messages


def path_of(rows: Sequence[MessageRecord], leaf_id: str | None) -> list[MessageRecord]:
    """The messages from the first to ``leaf_id``, following the parents. A conversation stored before
    branches existed (no leaf) reads as it always did: every message, oldest first."""
    if leaf_id is None:
        return list(rows)
    by_id = {row.id: row for row in rows}
    path: list[MessageRecord] = []
    node = by_id.get(leaf_id)
    while node is not None and len(path) <= len(rows):  # the bound: a corrupt cycle cannot spin
        path.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    path.reverse()
    return path


def children_of(rows: Sequence[MessageRecord]) -> dict[str | None, list[MessageRecord]]:
    """Each parent id (None: the conversation's start) and its children, oldest first."""
    children: dict[str | None, list[MessageRecord]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    return children


def newest_leaf(rows: Sequence[MessageRecord], start: MessageRecord) -> MessageRecord:
    """The branch through ``start`` that was written last: from ``start``, always its newest child."""
    children = children_of(rows)
    node = start
    for _ in range(len(rows)):
        later = children.get(node.id)
        if not later:
            break
        node = later[-1]
    return node


def conversation_rows(conn: Connection, *, conversation_id: str) -> list[MessageRecord]:
    """Every message of the conversation, every branch, oldest first."""
    return [MessageRecord.from_row(row) for row in conn.execute(_ROWS, {"b_id": conversation_id}).mappings()]


def read_thread(conn: Connection, *, conversation_id: str) -> Thread:
    """The branch being read, with each of its messages' versions."""
    rows = conversation_rows(conn, conversation_id=conversation_id)
    leaf_id = conn.scalar(_LEAF, {"b_id": conversation_id})
    path = path_of(rows, leaf_id)
    if leaf_id is None:
        return Thread(path, {row.id: (row.id,) for row in path}, rows)
    children = children_of(rows)
    versions = {row.id: tuple(c.id for c in children.get(row.parent_id, [row])) for row in path}
    return Thread(path, versions, rows)


def path_to(conn: Connection, *, conversation_id: str, message_id: str | None) -> list[MessageRecord]:
    """The messages from the first to ``message_id`` (none for None: a branch from the start)."""
    if message_id is None:
        return []
    return path_of(conversation_rows(conn, conversation_id=conversation_id), message_id)


def versions_of(conn: Connection, *, message: MessageRecord) -> tuple[str, ...]:
    """The ids of ``message``'s versions (those with its parent), oldest first, itself included."""
    same_parent = (
        messages.c.parent_id.is_(None)
        if message.parent_id is None
        else messages.c.parent_id == message.parent_id
    )
    rows = conn.execute(
        select(messages.c.id)
        .where(messages.c.conversation_id == message.conversation_id, same_parent)
        .order_by(messages.c.created_at, messages.c.id)
    )
    return tuple(message_id for (message_id,) in rows)
