"""A turn that starts a conversation creates it in its own write: one transaction stores the
conversation, the history a client sent, the question and the placeholder answer — and a turn
refused there leaves no conversation behind (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from botport.store import Database, history
from botport.store import repository as repo
from botport.store import turns as turn_store
from botport.store.records import ConversationRecord
from botport.store.tables import conversations
from botport.store.types import new_id

ALICE = "key:alice"
HISTORY = (("user", "你好"), ("assistant", "你好！有什么可以帮你？"))


def _new_turn(conversation_id: str, *, key: str | None = None, **fields: object) -> turn_store.NewTurn:
    return turn_store.NewTurn(
        owner=ALICE,
        conversation_id=conversation_id,
        question="and botport?",
        title="and botport?",
        runner="test-runner",
        lease=timedelta(seconds=30),
        idempotency_key=key,
        fingerprint="f",
        **fields,  # type: ignore[arg-type]
    )


async def _conversation_count(database: Database) -> int:
    async with database.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(conversations))).scalar_one())


async def test_one_write_stores_the_conversation_its_history_the_question_and_the_answer(
    database: Database,
) -> None:
    conversation_id = new_id()
    new = turn_store.NewConversation("demo", "你好", HISTORY)
    begun = await database.write(
        lambda conn: turn_store.begin_turn(conn, turn=_new_turn(conversation_id, new_conversation=new))
    )
    assert begun.conversation.id == conversation_id and begun.conversation.title == "你好"
    assert begun.user is not None and begun.user.content == "and botport?"
    assert begun.answer.status == "streaming" and begun.orphans == []
    async with database.read() as conn:
        stored = await repo.list_messages(conn, conversation_id=conversation_id)
    assert [(m.role, m.content, m.status) for m in stored] == [
        ("user", "你好", "completed"),
        ("assistant", "你好！有什么可以帮你？", "completed"),
        ("user", "and botport?", "completed"),
        ("assistant", "", "streaming"),
    ]
    # The answer completes: the client's next request (its history + this answer) finds the conversation.
    await database.write(
        lambda conn: turn_store.end_turn(
            conn,
            answer=begun.answer,
            fields={"status": "completed", "content": "sure", "reasoning": ""},
            coze_conversation_id="c1",
        )
    )
    resent = [*HISTORY, ("user", "and botport?"), ("assistant", "sure")]
    async with database.read() as conn:
        found = await history.find_conversation_by_history(conn, owner=ALICE, bot="demo", turns=resent)
    assert found is not None and found.id == conversation_id
    assert found.coze_conversation_id == "c1"


async def test_a_refused_start_leaves_no_conversation(database: Database) -> None:
    def no_such_bot(conversation: ConversationRecord) -> None:
        raise LookupError(conversation.bot)

    new = turn_store.NewConversation("gone", "", HISTORY)
    with pytest.raises(LookupError):
        await database.write(
            lambda conn: turn_store.begin_turn(
                conn, turn=_new_turn(new_id(), new_conversation=new, check=no_such_bot)
            )
        )
    assert await _conversation_count(database) == 0


async def test_a_repeated_key_leaves_no_second_conversation(database: Database) -> None:
    first = await database.write(
        lambda conn: turn_store.begin_turn(
            conn, turn=_new_turn(new_id(), key="k1", new_conversation=turn_store.NewConversation("demo"))
        )
    )
    with pytest.raises(turn_store.ConversationTaken) as taken:
        await database.write(
            lambda conn: turn_store.begin_turn(
                conn, turn=_new_turn(new_id(), key="k1", new_conversation=turn_store.NewConversation("demo"))
            )
        )
    assert taken.value.repeated
    assert await _conversation_count(database) == 1
    async with database.read() as conn:
        assert [m.id for m in await repo.list_messages(conn, conversation_id=first.conversation.id)][
            -1
        ] == first.answer.id
