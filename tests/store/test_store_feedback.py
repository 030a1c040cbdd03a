"""An answer's Coze message id and its rating (migration 0005), on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select, text

from botport.store import Database
from botport.store import repository as repo
from botport.store import turns as turn_store
from botport.store.db import sqlite_file
from botport.store.migrations import MIGRATIONS, migrate
from botport.store.records import MessageRecord, Rating
from botport.store.tables import messages
from botport.store.types import new_id, utcnow

ALICE = "anon:alice"


async def _answer(db: Database, *, status: str = "completed") -> tuple[str, str]:
    async with db.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        await repo.add_message(conn, conversation_id=conv.id, role="user", content="q")
        answer = await repo.add_message(
            conn, conversation_id=conv.id, role="assistant", content="a", status="streaming"
        )
    fields = {"status": status, "content": "a", "reasoning": "", "upstream_message_id": "coze-msg-1"}
    ended = await db.write(
        lambda conn: turn_store.end_turn(conn, answer=answer, fields=fields, coze_conversation_id="c")
    )
    assert ended
    return conv.id, answer.id


async def test_a_turns_end_stores_the_coze_message_id(database: Database) -> None:
    _, answer_id = await _answer(database)
    async with database.read() as conn:
        stored = await repo.get_message(conn, message_id=answer_id)
    assert stored is not None
    assert stored.upstream_message_id == "coze-msg-1"
    assert (stored.feedback, stored.feedback_comment) == (None, None)


async def test_rate_set_replace_and_remove(database: Database) -> None:
    conversation_id, answer_id = await _answer(database)
    async with database.read() as conn:
        before = await repo.get_message(conn, message_id=answer_id)

    async def rate(rating: Rating | None, comment: str | None = None) -> MessageRecord:
        found = await database.write(
            lambda conn: repo.rate_answer(
                conn, conversation_id=conversation_id, message_id=answer_id, rating=rating, comment=comment
            )
        )
        assert found is not None
        return found

    liked = await rate("like", "很好")
    assert (liked.feedback, liked.feedback_comment) == ("like", "很好")
    unliked = await rate("unlike")
    assert (unliked.feedback, unliked.feedback_comment) == ("unlike", None)
    removed = await rate(None, "a comment without a rating is not kept")
    assert (removed.feedback, removed.feedback_comment) == (None, None)
    # A rating is not activity: the answer keeps its updated_at (and the conversation its place).
    assert before is not None and removed.updated_at == before.updated_at


async def test_rate_leaves_questions_unfinished_answers_and_others_alone(database: Database) -> None:
    conversation_id, answer_id = await _answer(database, status="failed")
    async with database.read() as conn:
        question = (await repo.list_messages(conn, conversation_id=conversation_id))[0]
    for message_id in (answer_id, question.id):
        found = await database.write(
            lambda conn, m=message_id: repo.rate_answer(
                conn, conversation_id=conversation_id, message_id=m, rating="like", comment=None
            )
        )
        assert found is not None and found.feedback is None
    elsewhere, _ = await _answer(database)
    assert (
        await database.write(
            lambda conn: repo.rate_answer(
                conn, conversation_id=elsewhere, message_id=answer_id, rating="like", comment=None
            )
        )
        is None
    )


async def test_migration_0005_keeps_existing_answers(database_url: str) -> None:
    """A database as 0004 left it: its answers get the new columns, empty."""
    path = sqlite_file(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(database_url)
    try:
        await migrate(db.engine, MIGRATIONS[:4])
        async with db.connect() as conn:
            now = utcnow().replace(tzinfo=None).isoformat(sep=" ") if db.backend == "sqlite" else utcnow()
            conversation_id, message_id = new_id(), new_id()
            await conn.execute(  # the schema of then: what the code of then wrote
                text(
                    "INSERT INTO conversations (id, owner, bot, title, created_at, updated_at) "
                    "VALUES (:c, :owner, 'demo', '', :now, :now)"
                ),
                {"c": conversation_id, "owner": ALICE, "now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO messages (id, conversation_id, role, content, reasoning, status, "
                    "follow_ups, created_at, updated_at) VALUES (:id, :c, 'assistant', 'old answer', '', "
                    "'completed', '[]', :now, :now)"
                ),
                {"id": message_id, "c": conversation_id, "now": now},
            )
        assert await db.start() == [name for name, _ in MIGRATIONS[4:]]
        async with db.read() as conn:
            row = (await conn.execute(select(messages).where(messages.c.id == message_id))).mappings().one()
        assert row["content"] == "old answer"
        assert (row["upstream_message_id"], row["feedback"], row["feedback_comment"]) == (None, None, None)
    finally:
        await db.close()
