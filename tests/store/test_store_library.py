"""Pinned conversations and imported ones, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from botport.errors import ConflictError
from botport.store import Database
from botport.store import repository as repo
from botport.store.pins import MAX_PINNED, list_pinned, set_pinned
from botport.store.search import search_conversations
from botport.store.tables import conversations
from botport.store.transfer import ImportedMessage, import_conversation
from botport.store.types import utcnow

ALICE = "anon:alice"
BOB = "anon:bob"


async def test_pin_and_unpin_keep_the_order_and_the_owner(database: Database) -> None:
    async with database.connect() as conn:
        old = await repo.create_conversation(conn, owner=ALICE, bot="demo", title="old")
        new = await repo.create_conversation(conn, owner=ALICE, bot="demo", title="new")
    pinned = await database.write(lambda c: set_pinned(c, owner=ALICE, conversation_id=old.id, pinned=True))
    assert pinned is not None and pinned.pinned_at is not None
    assert pinned.updated_at == old.updated_at  # pinning is no activity
    again = await database.write(lambda c: set_pinned(c, owner=ALICE, conversation_id=old.id, pinned=True))
    assert again is not None and again.pinned_at == pinned.pinned_at  # already pinned: kept as it was
    assert (
        await database.write(lambda c: set_pinned(c, owner=BOB, conversation_id=old.id, pinned=False)) is None
    )
    assert [c.id for c in await database.read_op(lambda c: list_pinned(c, owner=ALICE))] == [old.id]
    assert await database.read_op(lambda c: list_pinned(c, owner=BOB)) == []
    async with database.read() as conn:
        page = await repo.list_conversations(conn, owner=ALICE)
    assert [c.id for c in page.items] == [new.id, old.id]  # the list pages as before
    unpinned = await database.write(
        lambda c: set_pinned(c, owner=ALICE, conversation_id=old.id, pinned=False)
    )
    assert unpinned is not None and unpinned.pinned_at is None
    assert await database.read_op(lambda c: list_pinned(c, owner=ALICE)) == []


async def test_pinned_are_listed_by_activity_and_bounded(database: Database) -> None:
    async with database.connect() as conn:
        ids = [
            (await repo.create_conversation(conn, owner=ALICE, bot="demo")).id for _ in range(MAX_PINNED + 1)
        ]
        # All but the last pinned at once (the limit is what is tested here, not MAX_PINNED requests).
        await conn.execute(
            update(conversations).where(conversations.c.id.in_(ids[:-1])).values(pinned_at=utcnow())
        )
    with pytest.raises(ConflictError, match="unpin one first"):
        await database.write(lambda c: set_pinned(c, owner=ALICE, conversation_id=ids[-1], pinned=True))
    listed = await database.read_op(lambda c: list_pinned(c, owner=ALICE))
    assert [c.id for c in listed] == ids[-2::-1]  # most recently active first
    await database.write(lambda c: set_pinned(c, owner=ALICE, conversation_id=ids[0], pinned=False))
    pinned = await database.write(lambda c: set_pinned(c, owner=ALICE, conversation_id=ids[-1], pinned=True))
    assert pinned is not None and pinned.pinned_at is not None


def _message(role: str, content: str, at: datetime, **fields: object) -> ImportedMessage:
    return ImportedMessage(role=role, content=content, created_at=at, **fields)  # type: ignore[arg-type]


async def test_an_import_keeps_order_times_and_fields(database: Database) -> None:
    start = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    items = [
        _message("user", "Where do pangolins live?", start),
        _message(
            "assistant",
            "In Africa and Asia.",
            start + timedelta(seconds=5),
            reasoning="Recall the range.",
            follow_ups=("What do they eat?",),
            input_tokens=3,
            output_tokens=5,
            total_tokens=8,
        ),
        _message("user", "And now?", start + timedelta(seconds=5)),  # the same time: kept after it
        _message(
            "assistant",
            "Stopped half",
            start,
            status="interrupted",
            error_code="cancelled",
            error_message="x",
        ),
    ]
    record = await database.write(
        lambda c: import_conversation(
            c, owner=ALICE, bot="demo", title="Pangolins", created_at=start + timedelta(days=1), items=items
        )
    )
    assert (record.owner, record.bot, record.title, record.coze_conversation_id) == (
        ALICE,
        "demo",
        "Pangolins",
        None,
    )
    assert record.created_at == start  # never after its first message
    async with database.read() as conn:
        stored = await repo.list_messages(conn, conversation_id=record.id)
    assert [(m.role, m.content, m.status) for m in stored] == [(i.role, i.content, i.status) for i in items]
    times = [m.created_at for m in stored]
    assert times[:2] == [start, start + timedelta(seconds=5)]
    assert times[2] == times[3] - timedelta(microseconds=1) == start + timedelta(seconds=5, microseconds=1)
    assert record.updated_at == times[-1]
    answer = stored[1]
    assert (answer.reasoning, answer.follow_ups, answer.total_tokens) == (
        "Recall the range.",
        ("What do they eat?",),
        8,
    )
    assert (stored[3].error_code, stored[3].error_message) == ("cancelled", "x")
    [hit] = await database.read_op(lambda c: search_conversations(c, owner=ALICE, query="africa"))
    assert hit.conversation.id == record.id and hit.message_id == answer.id
    assert await database.read_op(lambda c: search_conversations(c, owner=BOB, query="africa")) == []
