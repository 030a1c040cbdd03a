"""Searching conversations, on SQLite (FTS5 trigram) and PostgreSQL (GIN word index, ILIKE for the rest):
ranking, snippets, Chinese, short words, hostile input, and what keeps the index current."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, text

from botport.errors import BadRequestError
from botport.store import Database
from botport.store import repository as repo
from botport.store.db import sqlite_file
from botport.store.migrations import MIGRATIONS, migrate
from botport.store.search import (
    MAX_QUERY_CHARS,
    SNIPPET_CHARS,
    SearchHit,
    message_query,
    search_conversations,
    snippet,
)

ALICE = "anon:alice"
BOB = "anon:bob"


async def _conversation(db: Database, title: str, *texts: str, owner: str = ALICE) -> str:
    """A conversation with these messages (a question, an answer, a question...), all completed."""
    async with db.connect() as conn:
        conv = await repo.create_conversation(conn, owner=owner, bot="demo", title=title)
        for n, content in enumerate(texts):
            role = "user" if n % 2 == 0 else "assistant"
            await repo.add_message(conn, conversation_id=conv.id, role=role, content=content)
    return conv.id


async def _search(db: Database, query: str, owner: str = ALICE, limit: int = 20) -> list[SearchHit]:
    return await db.read_op(lambda conn: search_conversations(conn, owner=owner, query=query, limit=limit))


def _ids(hits: list[SearchHit]) -> list[str]:
    return [hit.conversation.id for hit in hits]


def _marked(hit: SearchHit) -> list[str]:
    return [part for part, matched in hit.snippet if matched]


async def test_titles_first_then_messages_by_rank_and_only_the_owners(database: Database) -> None:
    once = await _conversation(database, "Holidays", "Where to go?", "Maybe Lisbon, or the zebra park once.")
    titled = await _conversation(database, "Zebra facts", "Tell me something", "They sleep standing.")
    often = await _conversation(database, "Animals", "zebra?", "Zebra: a zebra has zebra stripes.")
    await _conversation(database, "Zebra too", "zebra zebra", owner=BOB)
    await _conversation(database, "Cats", "Do cats purr?", "Yes.")

    hits = await _search(database, "zebra")
    assert _ids(hits) == [titled, often, once]
    assert hits[0].message_id is None and hits[0].snippet == ()  # the title matched, no message did
    assert _marked(hits[1]) and all(word.lower() == "zebra" for word in _marked(hits[1]))
    assert {hit.conversation.owner for hit in hits} == {ALICE}
    assert _ids(await _search(database, "zebra", limit=2)) == [titled, often]
    assert await _search(database, "giraffe") == []


async def test_every_word_must_match_in_one_message_or_the_title(database: Database) -> None:
    both = await _conversation(database, "", "sunny weather in Paris today")
    await _conversation(database, "", "sunny weather", "Paris is lovely")  # split across messages
    titled = await _conversation(database, "Paris trip", "sunny days ahead")
    hits = await _search(database, "paris SUNNY")
    assert set(_ids(hits)) == {both}
    assert _ids(await _search(database, "paris trip")) == [titled]


async def test_an_answer_found_by_a_word_only_it_has(database: Database) -> None:
    cid = await _conversation(database, "Question", "what is the wire protocol?", "It streams increments.")
    [hit] = await _search(database, "increments")
    assert hit.conversation.id == cid
    async with database.read() as conn:
        answer = (await repo.list_messages(conn, conversation_id=cid))[1]
    assert hit.message_id == answer.id
    assert "".join(part for part, _ in hit.snippet) == "It streams increments."
    assert _marked(hit) == ["increments"]


async def test_chinese_and_short_words(database: Database) -> None:
    weather = await _conversation(database, "", "今天天气怎么样？", "今天天气很好，适合出去走走。")
    ai = await _conversation(database, "", "What can AI do?", "Many things.")
    assert _ids(await _search(database, "天气")) == [weather]  # two characters: shorter than a trigram
    assert _ids(await _search(database, "天气很好")) == [weather]
    assert _ids(await _search(database, "出去 天气")) == [weather]
    assert await _search(database, "下雨") == []
    assert _ids(await _search(database, "ai")) == [ai]
    [hit] = await _search(database, "很好")
    assert _marked(hit) == ["很好"]


async def test_hostile_queries_are_plain_text(database: Database) -> None:
    percent = await _conversation(database, "", "I am 100% sure", "ok")
    quoted = await _conversation(database, "", 'she said "hi" then left', "ok")
    await _conversation(database, "", "nothing special here", "fine")
    assert _ids(await _search(database, "100%")) == [percent]
    assert _ids(await _search(database, '"hi"')) == [quoted]
    assert _ids(await _search(database, "%")) == [percent]  # a percent sign, not "anything"
    for query in ("_", "\\", "%%", "___", "1_0"):
        assert await _search(database, query) == [], query
    for query in (
        '"',
        'x" OR "y',
        "NEAR(a b)",
        "*",
        "a AND",
        "-nothing",
        "content:special",
        "'; DROP TABLE messages; --",
        ":*",
        "!special & | <->",
        "(special",
        "^special",
        "special*",
    ):
        await _search(database, query)  # no error, whatever it finds
    assert len(await _search(database, "special")) == 1  # and the table is still there


async def test_bad_queries_are_refused(database: Database) -> None:
    for query in ("", "   ", "\t\n"):
        with pytest.raises(BadRequestError, match="empty"):
            await _search(database, query)
    with pytest.raises(BadRequestError, match="longer"):
        await _search(database, "x" * (MAX_QUERY_CHARS + 1))
    many = " ".join(chr(0x4E00 + n) for n in range(100))  # as many words as the length allows: fine
    assert len(many) <= MAX_QUERY_CHARS and await _search(database, many) == []


async def test_a_running_answer_is_indexed_at_its_end_not_at_each_checkpoint(database: Database) -> None:
    cid = await _conversation(database, "", "tell me a secret")
    async with database.connect() as conn:
        answer = await repo.add_message(conn, conversation_id=cid, role="assistant", status="streaming")
    for text_so_far in ("The pass", "The password is", "The password is swordfish"):
        async with database.connect() as conn:  # a checkpoint: the text so far, still streaming
            await repo.update_message(conn, message_id=answer.id, content=text_so_far)
        assert await _search(database, "swordfish") == []
        assert await _index_rows(database) in (1, None)  # the question only: checkpoints cost no indexing
    async with database.connect() as conn:
        await repo.update_message(conn, message_id=answer.id, status="completed")
    assert _ids(await _search(database, "swordfish")) == [cid]
    assert await _index_rows(database) in (2, None)


async def test_an_edited_or_deleted_message_leaves_the_index(database: Database) -> None:
    cid = await _conversation(database, "", "first words", "an answer about otters")
    async with database.read() as conn:
        answer = (await repo.list_messages(conn, conversation_id=cid))[1]
    async with database.connect() as conn:
        await repo.update_message(conn, message_id=answer.id, content="an answer about beavers")
    assert await _search(database, "otters") == []
    assert _ids(await _search(database, "beavers")) == [cid]
    async with database.connect() as conn:
        await repo.update_message(conn, message_id=answer.id, status="failed")  # a status, same text
    assert _ids(await _search(database, "beavers")) == [cid]
    async with database.connect() as conn:
        assert await repo.delete_conversation(conn, owner=ALICE, conversation_id=cid)
    assert await _search(database, "beavers") == []
    assert await _index_rows(database) in (0, None)


async def _index_rows(db: Database) -> int | None:
    """Rows in SQLite's index (search_rows); None on PostgreSQL, whose index is not a table."""
    if db.backend != "sqlite":
        return None
    async with db.read() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM search_rows"))).scalar_one())


async def test_messages_stored_before_the_index_are_found(database_url: str) -> None:
    """Migration 0006 indexes what 0001-0005 stored."""
    path = sqlite_file(database_url)
    if path is not None:
        path.parent.mkdir(parents=True)
    db = Database(database_url)
    try:
        names = [name for name, _ in MIGRATIONS]
        before = names.index("0006_search_and_pins")
        await migrate(db.engine, MIGRATIONS[:before])
        async with db.engine.begin() as conn:
            await conn.run_sync(_old_rows)
        await db.start()
        [hit] = await _search(db, "pangolin")
        assert (hit.conversation.id, hit.message_id) == ("c1", "m2")
        assert await _search(db, "streaming") == []
    finally:
        await db.close()


def _old_rows(conn: Connection) -> None:
    at = "2026-01-02 03:04:05"
    conversation = "INSERT INTO conversations (id, owner, bot, title, created_at, updated_at) VALUES "
    conn.execute(text(f"{conversation} ('c1', :owner, 'demo', 'old', :at, :at)"), {"owner": ALICE, "at": at})
    message = (
        "INSERT INTO messages (id, conversation_id, role, content, reasoning, status, follow_ups, "
        "created_at, updated_at) VALUES (:id, 'c1', :role, :content, '', :status, '[]', :at, :at)"
    )
    rows: list[dict[str, Any]] = [
        {"id": "m1", "role": "user", "content": "tell me of armoured animals", "status": "completed"},
        {"id": "m2", "role": "assistant", "content": "The pangolin has scales.", "status": "completed"},
        {"id": "m3", "role": "assistant", "content": "still streaming", "status": "streaming"},
    ]
    conn.execute(text(message), [{**row, "at": at} for row in rows])


@pytest.mark.postgres
async def test_postgres_searches_words_through_its_gin_index(postgres_url: str) -> None:
    db = Database(postgres_url)
    await db.start()
    try:
        sql, params = message_query("postgresql", owner=ALICE, terms=["otters", "river"], limit=5)
        async with db.connect() as conn:
            # As if the table were large and the reader had many conversations: no scan of theirs.
            for setting in ("enable_seqscan", "enable_nestloop"):
                await conn.execute(text(f"SET LOCAL {setting} = off"))
            plan = "\n".join(row[0] for row in await conn.execute(text(f"EXPLAIN {sql}"), params))
        assert "ix_search_messages_words" in plan, plan
    finally:
        await db.close()


def test_the_snippet_is_a_window_around_the_first_match() -> None:
    words = " ".join(f"word{n}" for n in range(200))
    content = f"{words}\n\n  the   Needle is here  {words}"
    parts = snippet(content, ["needle"])
    joined = "".join(part for part, _ in parts)
    assert joined.startswith("…") and joined.endswith("…")
    assert "the Needle is here" in joined  # white space collapsed
    assert len(joined) <= SNIPPET_CHARS + 2
    assert [part for part, matched in parts if matched] == ["Needle"]
    assert snippet("short text", ["absent"]) == (("short text", False),)
    assert snippet("a+b <b>x</b>", ["<b>", "a+b"]) == (
        ("a+b", True),
        (" ", False),
        ("<b>", True),
        ("x</b>", False),
    )  # plain text: the client escapes it
