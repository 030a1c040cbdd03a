"""Conversations and messages, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from botport.errors import BadRequestError
from botport.store import Database
from botport.store import repository as repo
from botport.store import turns as turn_store
from botport.store.tables import conversations, messages
from botport.store.types import utcnow

ALICE = "anon:alice"
BOB = "anon:bob"


async def test_create_and_get_conversation(database: Database) -> None:
    async with database.connect() as conn:
        created = await repo.create_conversation(conn, owner=ALICE, bot="demo", title="第一个对话")
    async with database.connect() as conn:
        fetched = await repo.get_conversation(conn, owner=ALICE, conversation_id=created.id)
    assert fetched == created
    assert (fetched.owner, fetched.bot, fetched.title) == (ALICE, "demo", "第一个对话")
    assert fetched.coze_conversation_id is None
    assert fetched.created_at.tzinfo is UTC
    assert fetched.created_at == fetched.updated_at
    assert len(fetched.id) == 32


async def test_other_owner_sees_nothing(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo", title="mine")
        assert await repo.get_conversation(conn, owner=BOB, conversation_id=conv.id) is None
        assert await repo.get_conversation(conn, owner=ALICE, conversation_id="no-such-id") is None
        assert (
            await repo.rename_conversation(conn, owner=BOB, conversation_id=conv.id, title="stolen") is None
        )
        assert await repo.delete_conversation(conn, owner=BOB, conversation_id=conv.id) is False
        assert (await repo.list_conversations(conn, owner=BOB)).items == []
        assert await repo.get_conversation(conn, owner=ALICE, conversation_id=conv.id) == conv


async def test_rename_keeps_the_order(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo", title="old")
        renamed = await repo.rename_conversation(
            conn, owner=ALICE, conversation_id=conv.id, title="new title"
        )
    assert renamed is not None
    assert renamed.title == "new title"
    assert renamed.updated_at == conv.updated_at


async def test_coze_conversation_id_and_touch(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        await repo.set_coze_conversation_id(
            conn, conversation_id=conv.id, coze_conversation_id="7400000000000000001"
        )
        await repo.touch_conversation(conn, conversation_id=conv.id)
        fetched = await repo.get_conversation(conn, owner=ALICE, conversation_id=conv.id)
    assert fetched is not None
    assert fetched.coze_conversation_id == "7400000000000000001"
    assert fetched.updated_at > conv.updated_at


async def test_paging_newest_first_with_cursor(database: Database) -> None:
    async with database.connect() as conn:
        made = [
            await repo.create_conversation(conn, owner=ALICE, bot="demo", title=f"c{i}") for i in range(7)
        ]
        await repo.create_conversation(conn, owner=BOB, bot="demo", title="bob's")
        # Activity moves c2 to the top.
        await repo.touch_conversation(conn, conversation_id=made[2].id)
    expected = [made[2].id] + [c.id for c in reversed(made) if c.id != made[2].id]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        async with database.connect() as conn:
            page = await repo.list_conversations(conn, owner=ALICE, limit=3, before=cursor)
        seen += [c.id for c in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    assert pages == 3

    async with database.connect() as conn:
        exact = await repo.list_conversations(conn, owner=ALICE, limit=7)
    assert [c.id for c in exact.items] == expected
    assert exact.next_cursor is None


async def test_paging_breaks_timestamp_ties_by_id(database: Database) -> None:
    async with database.connect() as conn:
        made = [await repo.create_conversation(conn, owner=ALICE, bot="demo") for _ in range(5)]
        same = utcnow()
        await conn.execute(update(conversations).values(updated_at=same))
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        async with database.connect() as conn:
            page = await repo.list_conversations(conn, owner=ALICE, limit=2, before=cursor)
        seen += [c.id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted((c.id for c in made), reverse=True)


async def test_paging_filters_by_bot(database: Database) -> None:
    async with database.connect() as conn:
        demo = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        await repo.create_conversation(conn, owner=ALICE, bot="other")
        page = await repo.list_conversations(conn, owner=ALICE, bot="demo")
    assert [c.id for c in page.items] == [demo.id]


@pytest.mark.parametrize("cursor", ["garbage!", "", "bm90IGpzb24", "WyIyMDI0LTAxLTAxIiwgMV0"])
async def test_a_bad_cursor_is_a_bad_request(database: Database, cursor: str) -> None:
    async with database.connect() as conn:
        with pytest.raises(BadRequestError, match="cursor"):
            await repo.list_conversations(conn, owner=ALICE, before=cursor)


async def test_limit_must_be_positive(database: Database) -> None:
    async with database.connect() as conn:
        with pytest.raises(ValueError, match="limit"):
            await repo.list_conversations(conn, owner=ALICE, limit=0)


async def test_messages_round_trip(database: Database) -> None:
    tool_calls = [{"id": "call_1", "name": "天气", "arguments": '{"城市": "北京"}'}]
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        user = await repo.add_message(
            conn, conversation_id=conv.id, role="user", content="你好，世界 \u2028 🌏"
        )
        answer = await repo.add_message(
            conn, conversation_id=conv.id, role="assistant", status="streaming", upstream_chat_id="c1"
        )
        updated = await repo.update_message(
            conn,
            message_id=answer.id,
            content="很高兴见到你" * 20_000,
            reasoning="想一想……",
            status="requires_action",
            input_tokens=12,
            output_tokens=34,
            total_tokens=46,
            logid="20240101abc",
            follow_ups=["继续说", "换个话题"],
            tool_calls=tool_calls,
        )
    async with database.connect() as conn:
        listed = await repo.list_messages(conn, conversation_id=conv.id)
        fetched = await repo.get_message(conn, message_id=answer.id)
    assert updated is not None
    assert listed == [user, updated]
    assert fetched == updated
    assert user.status == "completed"
    assert user.content == "你好，世界 \u2028 🌏"
    assert updated.content == "很高兴见到你" * 20_000
    assert updated.follow_ups == ("继续说", "换个话题")
    assert updated.tool_calls == tool_calls
    assert (updated.input_tokens, updated.output_tokens, updated.total_tokens) == (12, 34, 46)
    assert (updated.upstream_chat_id, updated.logid) == ("c1", "20240101abc")
    assert updated.updated_at > updated.created_at
    assert updated.created_at.tzinfo is UTC


async def test_message_defaults_and_nulls(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        msg = await repo.add_message(
            conn, conversation_id=conv.id, role="assistant", content="x", status="failed", error_code="e"
        )
        cleared = await repo.update_message(
            conn, message_id=msg.id, error_code=None, tool_calls=None, follow_ups=[]
        )
        stored = await repo.get_message(conn, message_id=msg.id)
    assert cleared == stored
    assert stored is not None
    assert (stored.error_code, stored.tool_calls, stored.follow_ups, stored.reasoning) == (None, None, (), "")
    assert stored.input_tokens is None


async def test_adding_a_message_moves_the_conversation_up(database: Database) -> None:
    async with database.connect() as conn:
        older = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        await repo.create_conversation(conn, owner=ALICE, bot="demo")
        await repo.add_message(conn, conversation_id=older.id, role="user", content="bump")
        page = await repo.list_conversations(conn, owner=ALICE)
    assert page.items[0].id == older.id


async def test_messages_in_creation_order(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        made = [
            await repo.add_message(conn, conversation_id=conv.id, role="user", content=str(i))
            for i in range(20)
        ]
        listed = await repo.list_messages(conn, conversation_id=conv.id)
    assert [m.id for m in listed] == [m.id for m in made]


async def test_unknown_fields_roles_and_statuses_are_refused(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        msg = await repo.add_message(conn, conversation_id=conv.id, role="user", content="hi")
        with pytest.raises(ValueError, match="role"):
            await repo.add_message(conn, conversation_id=conv.id, role="system", content="x")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="status"):
            await repo.update_message(conn, message_id=msg.id, status="done")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="unknown message fields: role"):
            await repo.update_message(conn, message_id=msg.id, role="assistant")  # type: ignore[call-arg]


async def test_missing_message(database: Database) -> None:
    async with database.connect() as conn:
        assert await repo.get_message(conn, message_id="nope") is None
        assert await repo.update_message(conn, message_id="nope", content="x") is None
        assert await repo.list_messages(conn, conversation_id="nope") == []


async def test_a_message_needs_its_conversation(database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with database.connect() as conn:
            await repo.add_message(conn, conversation_id="no-such-conversation", role="user", content="hi")


async def test_delete_cascades_to_messages(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        keep = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        await repo.add_message(conn, conversation_id=conv.id, role="user", content="a")
        await repo.add_message(conn, conversation_id=conv.id, role="assistant", content="b")
        kept = await repo.add_message(conn, conversation_id=keep.id, role="user", content="c")
    async with database.connect() as conn:
        assert await repo.delete_conversation(conn, owner=ALICE, conversation_id=conv.id) is True
        assert await repo.delete_conversation(conn, owner=ALICE, conversation_id=conv.id) is False
    async with database.connect() as conn:
        assert await repo.get_conversation(conn, owner=ALICE, conversation_id=conv.id) is None
        remaining = (await conn.execute(select(messages.c.id))).scalars().all()
    assert remaining == [kept.id]


async def test_orphaned_streaming_answers_become_failed_with_their_text(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        await repo.set_coze_conversation_id(conn, conversation_id=conv.id, coze_conversation_id="coze-conv-1")
        done = await repo.add_message(conn, conversation_id=conv.id, role="assistant", content="done")
        crashed = await repo.add_message(
            conn,
            conversation_id=conv.id,
            role="assistant",
            content="half an ans",
            status="streaming",
            upstream_chat_id="chat-1",
        )
        noted = await repo.add_message(
            conn, conversation_id=conv.id, role="assistant", content="x", status="streaming", error_code="own"
        )
    async with database.connect() as conn:
        orphans = await conn.run_sync(turn_store.resolve_orphans, lease=None)
        assert await conn.run_sync(turn_store.resolve_orphans, lease=None) == []
        after = {m.id: m for m in await repo.list_messages(conn, conversation_id=conv.id)}
    assert {o.message_id for o in orphans} == {crashed.id, noted.id}
    by_id = {o.message_id: o for o in orphans}
    assert by_id[crashed.id].upstream_chat_id == "chat-1"
    assert by_id[crashed.id].coze_conversation_id == "coze-conv-1"
    assert after[done.id] == done
    assert after[crashed.id].status == "failed"
    assert after[crashed.id].content == "half an ans"
    assert after[crashed.id].error_code == turn_store.ORPHAN_CODE
    assert after[crashed.id].error_message == turn_store.ORPHAN_MESSAGE
    assert after[noted.id].error_code == "own"


async def test_only_turns_past_their_lease_are_orphans(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        old = await repo.add_message(
            conn, conversation_id=conv.id, role="assistant", status="streaming", runner="a"
        )
        live = await repo.add_message(
            conn, conversation_id=conv.id, role="assistant", status="streaming", runner="b"
        )
        quiet = await repo.add_message(
            conn,
            conversation_id=conv.id,
            role="assistant",
            status="streaming",
            runner="c",
            heartbeat_at=utcnow(),
        )
        an_hour_ago = utcnow() - timedelta(hours=1)
        await conn.execute(update(messages).where(messages.c.id == old.id).values(created_at=an_hour_ago))
        await conn.execute(update(messages).where(messages.c.id == quiet.id).values(heartbeat_at=an_hour_ago))
    async with database.connect() as conn:
        # "live" has no heartbeat yet but was created just now; "quiet" stopped beating an hour ago.
        await conn.run_sync(turn_store.heartbeat, message_ids=[live.id])
        orphans = await conn.run_sync(turn_store.resolve_orphans, lease=timedelta(minutes=15))
        assert {o.message_id for o in orphans} == {old.id, quiet.id}
        assert (await repo.get_message(conn, message_id=old.id)).status == "failed"  # type: ignore[union-attr]
        assert (await repo.get_message(conn, message_id=live.id)).status == "streaming"  # type: ignore[union-attr]
        assert (await repo.get_message(conn, message_id=live.id)).heartbeat_at is not None  # type: ignore[union-attr]


async def test_a_transaction_that_raises_stores_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.connect() as conn:
            await repo.create_conversation(conn, owner=ALICE, bot="demo")
            raise RuntimeError("edge failed")
    async with database.connect() as conn:
        assert (await repo.list_conversations(conn, owner=ALICE)).items == []


async def test_concurrent_writers_all_succeed(database: Database) -> None:
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")

    async def write(i: int) -> None:
        async with database.connect() as conn:
            await repo.get_conversation(conn, owner=ALICE, conversation_id=conv.id)
            await repo.add_message(conn, conversation_id=conv.id, role="user", content=f"m{i}")

    await asyncio.gather(*(write(i) for i in range(30)))
    async with database.connect() as conn:
        assert len(await repo.list_messages(conn, conversation_id=conv.id)) == 30


async def test_a_sweep_never_takes_the_turns_its_instance_is_running(database: Database) -> None:
    """A loop too busy to write its heartbeat in time must not make the instance fail its own live
    turns: the sweeper passes the answers it runs, and only the others past their lease go."""
    async with database.connect() as conn:
        conv = await repo.create_conversation(conn, owner=ALICE, bot="demo")
        mine = await repo.add_message(
            conn, conversation_id=conv.id, role="assistant", content="so far", status="streaming", runner="me"
        )
        dead = await repo.add_message(
            conn, conversation_id=conv.id, role="assistant", content="lost", status="streaming", runner="gone"
        )
        an_hour_ago = utcnow() - timedelta(hours=1)
        await conn.execute(
            update(messages).where(messages.c.id.in_([mine.id, dead.id])).values(heartbeat_at=an_hour_ago)
        )
    orphans = await database.write(
        lambda conn: turn_store.resolve_orphans(conn, lease=timedelta(minutes=15), keep={mine.id})
    )
    assert [o.message_id for o in orphans] == [dead.id]
    async with database.read() as conn:
        assert (await repo.get_message(conn, message_id=mine.id)).status == "streaming"  # type: ignore[union-attr]
        assert (await repo.get_message(conn, message_id=dead.id)).status == "failed"  # type: ignore[union-attr]
