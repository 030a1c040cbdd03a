"""Finding the stored conversation that a resent history (OpenAI clients) continues."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from botport.store import ConversationRecord, Database, history
from botport.store import repository as repo
from botport.store.tables import conversations
from botport.store.types import new_id, utcnow

ALICE = "key:alice"
BOB = "key:bob"


def test_history_hash_is_a_sha256_chain_of_canonical_json() -> None:
    turns = [("user", "你好"), ("assistant", 'hi "there"')]
    first = hashlib.sha256('\n["user","你好"]'.encode()).hexdigest()
    second = hashlib.sha256(f'{first}\n["assistant","hi \\"there\\""]'.encode()).hexdigest()
    assert history.history_hash(turns) == second
    assert history.history_hash(turns[:1]) == first
    # The boundary between turns is part of the hash.
    assert history.history_hash([("user", "ab")]) != history.history_hash([("user", "a"), ("user", "b")])


async def _match(
    conn: AsyncConnection, turns: list[tuple[str, str]], *, owner: str = ALICE
) -> ConversationRecord | None:
    return await history.find_conversation_by_history(conn, owner=owner, bot="demo", turns=turns)


async def _conversation_with(database: Database, owner: str, bot: str, turns: list[tuple[str, str]]) -> str:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=owner, bot=bot)
        for role, content in turns:
            await repo.add_message(conn, conversation_id=conv.id, role=role, content=content)  # type: ignore[arg-type]
        return conv.id


async def test_finds_the_conversation_with_exactly_these_turns(database: Database) -> None:
    turns = [("user", "你好"), ("assistant", "你好！有什么可以帮你？")]
    wanted = await _conversation_with(database, ALICE, "demo", turns)
    await _conversation_with(database, ALICE, "demo", [*turns, ("user", "more")])
    await _conversation_with(database, ALICE, "demo", turns[:1])
    await _conversation_with(database, ALICE, "other-bot", turns)
    await _conversation_with(database, BOB, "demo", turns)
    async with database.connect() as conn:
        found = await _match(conn, turns)
        assert found is not None
        assert found.id == wanted
        assert await _match(conn, [("user", "你好")]) is not None
        assert await _match(conn, [("user", "你好 ")]) is None
        assert await _match(conn, [*turns, ("user", "x")]) is None
        assert await _match(conn, turns, owner="key:carol") is None
        assert await _match(conn, []) is None


async def test_the_newest_of_identical_histories_wins(database: Database) -> None:
    turns = [("user", "hi"), ("assistant", "hello")]
    await _conversation_with(database, ALICE, "demo", turns)
    newer = await _conversation_with(database, ALICE, "demo", turns)
    async with database.connect() as conn:
        found = await _match(conn, turns)
    assert found is not None
    assert found.id == newer


async def test_only_completed_messages_count_and_the_hash_follows_the_turn(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        await repo.add_message(conn, conversation_id=conv.id, role="user", content="question")
        answer = await repo.add_message(conn, conversation_id=conv.id, role="assistant", status="streaming")
        # While the answer streams, the history is just the question.
        found = await _match(conn, [("user", "question")])
        assert found is not None
        await repo.update_message(conn, message_id=answer.id, content="partial")
        found = await _match(conn, [("user", "question")])
        assert found is not None

        await repo.update_message(conn, message_id=answer.id, content="the answer", status="completed")
        full = [("user", "question"), ("assistant", "the answer")]
        assert await _match(conn, [("user", "question")]) is None
        found = await _match(conn, full)
        assert found is not None
        assert found.id == conv.id

        # A completed message edited later still matches its new text.
        await repo.update_message(conn, message_id=answer.id, content="the corrected answer")
        fixed = [("user", "question"), ("assistant", "the corrected answer")]
        assert await _match(conn, full) is None
        assert await _match(conn, fixed) is not None

        # A failed follow-up does not change the history.
        await repo.add_message(conn, conversation_id=conv.id, role="user", content="next")
        failed = await repo.add_message(
            conn, conversation_id=conv.id, role="assistant", content="cut", status="streaming"
        )
        await repo.update_message(conn, message_id=failed.id, status="failed", error_code="upstream_error")
        found = await _match(conn, [*fixed, ("user", "next")])
        assert found is not None


async def test_empty_conversation_has_no_hash(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        stored = (
            await conn.execute(select(conversations.c.history_hash).where(conversations.c.id == conv.id))
        ).scalar_one()
    assert stored is None


def _stamp(moment: datetime, db: Database) -> object:
    """A timestamp as the column type stores it on this backend (naive UTC text on SQLite)."""
    return moment.replace(tzinfo=None).isoformat(sep=" ") if db.backend == "sqlite" else moment


async def test_migration_0002_rehashes_stored_histories(database_url: str) -> None:
    """A database made before the hash chain gets every conversation's hash recomputed."""
    from botport.store.db import sqlite_file
    from botport.store.migrations import MIGRATIONS, migrate

    path = sqlite_file(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(database_url)
    try:
        await migrate(db.engine, MIGRATIONS[:1])  # the database as 0001 left it
        turns = [("user", "你好"), ("assistant", "hi"), ("user", "again")]
        async with db.connect() as conn:
            conv_id = await _old_conversation(conn, db)
            for role, content in turns:  # rows as 0001 knew them (today's repository writes more columns)
                now = utcnow()
                await conn.execute(
                    text(
                        "INSERT INTO messages (id, conversation_id, role, content, reasoning, status, "
                        "follow_ups, created_at, updated_at) VALUES (:id, :c, :r, :t, '', 'completed', "
                        "'[]', :now, :now)"
                    ),
                    {"id": new_id(), "c": conv_id, "r": role, "t": content, "now": _stamp(now, db)},
                )
            empty_id = await _old_conversation(conn, db)
            await conn.execute(conversations.update().values(history_hash="stale-old-format"))
        assert await db.start() == [name for name, _ in MIGRATIONS[1:]]
        async with db.connect() as conn:
            stored = dict(
                (await conn.execute(select(conversations.c.id, conversations.c.history_hash))).all()
            )
            assert stored == {conv_id: history.history_hash(turns), empty_id: None}
            assert await _match(conn, turns) is not None
            # 0007: the stored messages became one branch, each following the one before it
            listed = await repo.list_messages(conn, conversation_id=conv_id)
            assert [(m.role, m.content) for m in listed] == turns
            assert [m.parent_id for m in listed] == [None, listed[0].id, listed[1].id]
            leaves = dict((await conn.execute(select(conversations.c.id, conversations.c.leaf_id))).all())
            assert leaves == {conv_id: listed[-1].id, empty_id: None}
            # 0009: each completed message got its own hash, so a history ending inside is found
            for end in (1, 2, 3):
                point = await history.find_branch_point(conn, owner=ALICE, bot="demo", turns=turns[:end])
                assert point is not None and point.id == listed[end - 1].id
            assert await history.find_branch_point(conn, owner=ALICE, bot="other", turns=turns[:2]) is None
    finally:
        await db.close()


async def _old_conversation(conn: AsyncConnection, db: Database) -> str:
    """A conversation row as 0001 knew it (today's repository writes more columns)."""
    conversation_id, now = new_id(), _stamp(utcnow(), db)
    await conn.execute(
        text(
            "INSERT INTO conversations (id, owner, bot, title, created_at, updated_at) "
            "VALUES (:c, :owner, 'demo', '', :now, :now)"
        ),
        {"c": conversation_id, "owner": ALICE, "now": now},
    )
    return conversation_id


async def test_the_hash_follows_appends_and_edits(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        await repo.add_message(conn, conversation_id=conv.id, role="user", content="q1")
        answer = await repo.add_message(
            conn, conversation_id=conv.id, role="assistant", content="", status="streaming"
        )
        await repo.update_message(conn, message_id=answer.id, content="a1", status="completed")  # appended
        assert await _match(conn, [("user", "q1"), ("assistant", "a1")])
        await repo.update_message(conn, message_id=answer.id, content="a1 edited")  # an edit: recomputed
        found = await _match(conn, [("user", "q1"), ("assistant", "a1 edited")])
        assert found is not None
        await repo.update_message(conn, message_id=answer.id, status="failed")  # leaves the history
        assert await _match(conn, [("user", "q1")]) is not None
