"""Ordered, named schema migrations, applied on start and recorded in ``botport_migrations``.

Each step is ``(name, function)``; the function gets a synchronous ``Connection`` inside the
migration transaction. A step, once released, never changes: a schema change is a new step. Steps
build their tables from their own frozen definitions, not from :mod:`botport.store.tables`.

Several instances may start at once. On PostgreSQL the whole run holds a transaction-scoped
advisory lock, so one instance migrates and the others then find nothing to do. On SQLite every
transaction begins with ``BEGIN IMMEDIATE`` (see :mod:`botport.store.db`), which serializes them.
All steps run in one transaction: DDL is transactional on both backends, so a failed step leaves
the database as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from botport.store.tables import NAMING_CONVENTION
from botport.store.types import UTCDateTime, utcnow

logger = logging.getLogger(__name__)

MigrationStep = Callable[[Connection], None]

# Any fixed 64-bit number works; this one is "botport" in ASCII.
_PG_LOCK_KEY = 0x626F74706F7274

_record_metadata = MetaData(naming_convention=NAMING_CONVENTION)
migrations_table = Table(
    "botport_migrations",
    _record_metadata,
    Column("name", String(200), primary_key=True),
    Column("applied_at", UTCDateTime, nullable=False),
)


def _0001_initial(conn: Connection) -> None:
    schema = MetaData(naming_convention=NAMING_CONVENTION)
    Table(
        "api_keys",
        schema,
        Column("id", String(32), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("prefix", String(32), nullable=False, index=True),
        Column("key_hash", String(64), nullable=False, unique=True),
        Column("owner", String(255), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("last_used_at", UTCDateTime, nullable=True),
        Column("revoked_at", UTCDateTime, nullable=True),
    )
    Table(
        "conversations",
        schema,
        Column("id", String(32), primary_key=True),
        Column("owner", String(255), nullable=False),
        Column("bot", String(64), nullable=False),
        Column("title", Text, nullable=False),
        Column("coze_conversation_id", String(128), nullable=True),
        Column("history_hash", String(64), nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Index(None, "owner", "updated_at", "id"),
        Index(None, "owner", "bot", "history_hash"),
    )
    Table(
        "messages",
        schema,
        Column("id", String(32), primary_key=True),
        Column(
            "conversation_id",
            String(32),
            ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("role", String(16), nullable=False),
        Column("content", Text, nullable=False),
        Column("reasoning", Text, nullable=False),
        Column("status", String(32), nullable=False),
        Column("input_tokens", Integer, nullable=True),
        Column("output_tokens", Integer, nullable=True),
        Column("total_tokens", Integer, nullable=True),
        Column("upstream_chat_id", String(128), nullable=True),
        Column("logid", String(128), nullable=True),
        Column("follow_ups", JSON(none_as_null=True), nullable=False),
        Column("error_code", String(64), nullable=True),
        Column("error_message", Text, nullable=True),
        Column("tool_calls", JSON(none_as_null=True), nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Index(None, "conversation_id", "created_at"),
        Index(None, "status"),
    )
    schema.create_all(conn)


def _0002_history_hash_chain(conn: Connection) -> None:
    """``conversations.history_hash`` became a hash chain: recompute it for every conversation."""
    meta = MetaData()
    conversations = Table("conversations", meta, Column("id", String), Column("history_hash", String))
    messages = Table(
        "messages",
        meta,
        Column("id", String),
        Column("conversation_id", String),
        Column("role", String),
        Column("content", Text),
        Column("status", String),
        Column("created_at", UTCDateTime),
    )
    hashes: dict[str, str] = {}
    rows = conn.execute(
        select(messages.c.conversation_id, messages.c.role, messages.c.content)
        .where(messages.c.status == "completed")
        .order_by(messages.c.conversation_id, messages.c.created_at, messages.c.id)
    )
    for conversation_id, role, content in rows:
        # Frozen copy of the chain step as this migration defines it.
        item = json.dumps([role, content], ensure_ascii=False, separators=(",", ":"))
        previous = hashes.get(conversation_id, "")
        hashes[conversation_id] = hashlib.sha256(f"{previous}\n{item}".encode()).hexdigest()
    conn.execute(update(conversations).values(history_hash=None))
    for conversation_id, digest in hashes.items():
        conn.execute(
            update(conversations).where(conversations.c.id == conversation_id).values(history_hash=digest)
        )


def _0003_detached_turns(conn: Connection) -> None:
    """A turn is a server-side job: its lease (runner, heartbeat), its last event number, and the
    idempotency keys of the requests that started turns."""
    for column in (
        Column("runner", String(64), nullable=True),
        Column("heartbeat_at", UTCDateTime, nullable=True),
        Column("last_seq", Integer, nullable=True),
    ):
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE messages ADD COLUMN {column.name} {kind}"))
    schema = MetaData(naming_convention=NAMING_CONVENTION)
    Table(
        "idempotency_keys",
        schema,
        Column("owner", String(255), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("conversation_id", String(32), nullable=False),
        Column("message_id", String(32), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Index(None, "created_at"),
    )
    schema.create_all(conn)


def _0004_key_quotas(conn: Connection) -> None:
    """An API key's quota (each limit nullable: none), and its usage per UTC day."""
    for name in ("requests_per_minute", "concurrent_turns", "turns_per_day", "tokens_per_day"):
        conn.execute(text(f"ALTER TABLE api_keys ADD COLUMN {name} INTEGER"))
    schema = MetaData(naming_convention=NAMING_CONVENTION)
    Table(
        "key_usage",
        schema,
        Column("key_id", String(32), primary_key=True),
        Column("day", String(10), primary_key=True),
        Column("turns", Integer, nullable=False),
        Column("tokens", Integer, nullable=False),
    )
    schema.create_all(conn)


def _0005_message_feedback(conn: Connection) -> None:
    """An answer's Coze message id, and the user's rating of it (like / unlike) with a comment."""
    for column in (
        Column("upstream_message_id", String(128), nullable=True),
        Column("feedback", String(16), nullable=True),
        Column("feedback_comment", Text, nullable=True),
    ):
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE messages ADD COLUMN {column.name} {kind}"))


def _0006_search_and_pins(conn: Connection) -> None:
    """A conversation can be pinned (``pinned_at``), and messages are searchable (botport.store.search).

    Only messages whose status is not ``streaming`` are indexed: a running answer's checkpoints (an
    UPDATE every second or two) cost no indexing; its end does. SQLite: a contentless FTS5 table with
    the trigram tokenizer (substrings, Chinese), kept by triggers; its rows are numbered by
    ``search_rows`` (an INTEGER PRIMARY KEY survives VACUUM, the messages' implicit rowid may not).
    PostgreSQL: a partial GIN index over the words of the text."""
    kind = UTCDateTime().compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE conversations ADD COLUMN pinned_at {kind}"))
    conn.execute(text("CREATE INDEX ix_conversations_owner_pinned_at ON conversations (owner, pinned_at)"))
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "CREATE INDEX ix_search_messages_words ON messages "
                "USING gin (to_tsvector('simple'::regconfig, content)) WHERE status <> 'streaming'"
            )
        )
        return
    index_new = (
        "INSERT INTO search_rows (message_id) SELECT new.id WHERE new.status <> 'streaming'; "
        "INSERT INTO search_index (rowid, content) "
        "SELECT id, new.content FROM search_rows WHERE message_id = new.id;"
    )
    # A contentless table forgets a row by being told the text it indexed: old.content is that text.
    forget_old = (
        "INSERT INTO search_index (search_index, rowid, content) "
        "SELECT 'delete', id, old.content FROM search_rows WHERE message_id = old.id; "
        "DELETE FROM search_rows WHERE message_id = old.id;"
    )
    for statement in (
        "CREATE TABLE search_rows (id INTEGER PRIMARY KEY, message_id VARCHAR(32) NOT NULL UNIQUE)",
        "CREATE VIRTUAL TABLE search_index USING fts5(content, content='', tokenize='trigram')",
        f"CREATE TRIGGER search_message_added AFTER INSERT ON messages "
        f"WHEN new.status <> 'streaming' BEGIN {index_new} END",
        # Fires when a message enters or leaves 'streaming', or a stored one's text changes; not on
        # a checkpoint (streaming to streaming) nor on a rating.
        f"CREATE TRIGGER search_message_changed AFTER UPDATE OF content, status ON messages "
        f"WHEN (old.status = 'streaming') <> (new.status = 'streaming') "
        f"OR (new.status <> 'streaming' AND old.content IS NOT new.content) "
        f"BEGIN {forget_old} {index_new} END",
        f"CREATE TRIGGER search_message_deleted AFTER DELETE ON messages "
        f"WHEN old.status <> 'streaming' BEGIN {forget_old} END",
        "INSERT INTO search_rows (message_id) SELECT id FROM messages WHERE status <> 'streaming'",
        "INSERT INTO search_index (rowid, content) "
        "SELECT search_rows.id, messages.content FROM search_rows JOIN messages ON messages.id = message_id",
    ):
        conn.execute(text(statement))


def _0007_branches(conn: Connection) -> None:
    """Messages form a tree (edited questions and regenerated answers are versions of one another):
    each message's parent, a left branch's Coze conversation, and the leaf of the branch being read.
    Existing conversations become one branch: each message follows the one before it."""
    for table, column in (
        ("messages", Column("parent_id", String(32), nullable=True)),
        ("messages", Column("coze_conversation_id", String(128), nullable=True)),
        ("conversations", Column("leaf_id", String(32), nullable=True)),
    ):
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column.name} {kind}"))
    rows = conn.execute(
        text("SELECT id, conversation_id FROM messages ORDER BY conversation_id, created_at, id")
    )
    previous: dict[str, str] = {}
    links: list[dict[str, str]] = []
    for message_id, conversation_id in rows:
        parent = previous.get(conversation_id)
        if parent is not None:
            links.append({"b_id": message_id, "b_parent": parent})
        previous[conversation_id] = message_id
    if links:
        conn.execute(text("UPDATE messages SET parent_id = :b_parent WHERE id = :b_id"), links)
    leaves = [{"b_id": conversation_id, "b_leaf": leaf} for conversation_id, leaf in previous.items()]
    if leaves:
        conn.execute(text("UPDATE conversations SET leaf_id = :b_leaf WHERE id = :b_id"), leaves)


def _0008_responses(conn: Connection) -> None:
    """The OpenAI Responses edge's responses: each one answer message, with its request's input items
    and parameters."""
    schema = MetaData(naming_convention=NAMING_CONVENTION)
    Table("conversations", schema, Column("id", String(32), primary_key=True))
    Table(
        "responses",
        schema,
        Column("id", String(64), primary_key=True),
        Column("owner", String(255), nullable=False),
        Column(
            "conversation_id",
            String(32),
            ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        Column("message_id", String(32), nullable=False, unique=True),
        Column("previous_response_id", String(64), nullable=True),
        Column("model", String(64), nullable=False),
        Column("background", Boolean, nullable=False),
        # False: the request said store=false; only botport reads the row (to forget the exchange).
        Column("stored", Boolean, nullable=False),
        Column("params", JSON(none_as_null=True), nullable=False),
        Column("input_items", JSON(none_as_null=True), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Index(None, "owner", "created_at"),
    )
    schema.tables["responses"].create(conn)


def _0009_message_history_hash(conn: Connection) -> None:
    """Each completed message's history hash (the chain over the completed messages of its branch up
    to it), so that a client's history ending at any message, not only at a branch's end, is found."""
    kind = String(64).compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE messages ADD COLUMN history_hash {kind}"))
    conn.execute(text("CREATE INDEX ix_messages_history_hash ON messages (history_hash)"))
    rows = conn.execute(
        text(
            "SELECT id, parent_id, role, content, status FROM messages "
            "ORDER BY conversation_id, created_at, id"
        )
    ).all()
    chains: dict[str, str] = {}  # message id -> the chain up to it ("" before the first completed)
    hashes: list[dict[str, str]] = []
    for message_id, parent_id, role, content, status in rows:  # a parent comes before its children
        chain = chains.get(parent_id, "") if parent_id else ""
        if status == "completed":
            item = json.dumps([role, content], ensure_ascii=False, separators=(",", ":"))
            chain = hashlib.sha256(f"{chain}\n{item}".encode()).hexdigest()
            hashes.append({"b_id": message_id, "b_hash": chain})
        chains[message_id] = chain
    if hashes:
        conn.execute(text("UPDATE messages SET history_hash = :b_hash WHERE id = :b_id"), hashes)


def _0010_attachments(conn: Connection) -> None:
    """Images and files attached to questions: the bytes, what they are, and Coze's id of the upload."""
    schema = MetaData(naming_convention=NAMING_CONVENTION)
    Table("messages", schema, Column("id", String(32), primary_key=True))
    Table(
        "attachments",
        schema,
        Column("id", String(40), primary_key=True),
        Column("owner", String(255), nullable=False),
        Column("message_id", String(32), ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
        Column("name", String(255), nullable=False),
        Column("content_type", String(128), nullable=False),
        Column("size", Integer, nullable=False),
        Column("width", Integer, nullable=True),
        Column("height", Integer, nullable=True),
        Column("sha256", String(64), nullable=False),
        Column("data", LargeBinary, nullable=False),
        Column("coze_file_id", String(128), nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        Index(None, "message_id"),
        Index(None, "created_at"),
    )
    schema.tables["attachments"].create(conn)


MIGRATIONS: Sequence[tuple[str, MigrationStep]] = (
    ("0001_initial", _0001_initial),
    ("0002_history_hash_chain", _0002_history_hash_chain),
    ("0003_detached_turns", _0003_detached_turns),
    ("0004_key_quotas", _0004_key_quotas),
    ("0005_message_feedback", _0005_message_feedback),
    ("0006_search_and_pins", _0006_search_and_pins),
    ("0007_branches", _0007_branches),
    ("0008_responses", _0008_responses),
    ("0009_message_history_hash", _0009_message_history_hash),
    ("0010_attachments", _0010_attachments),
)


def _apply_pending(conn: Connection, steps: Sequence[tuple[str, MigrationStep]]) -> list[str]:
    migrations_table.create(conn, checkfirst=True)
    done = set(conn.execute(select(migrations_table.c.name)).scalars())
    applied: list[str] = []
    for name, step in steps:
        if name in done:
            continue
        logger.info("applying database migration %s", name)
        step(conn)
        conn.execute(insert(migrations_table).values(name=name, applied_at=utcnow()))
        applied.append(name)
    return applied


async def migrate(engine: AsyncEngine, steps: Sequence[tuple[str, MigrationStep]] = MIGRATIONS) -> list[str]:
    """Apply the steps not yet recorded, in order; return the names applied (empty: up to date)."""
    names = [name for name, _ in steps]
    if len(set(names)) != len(names):
        raise ValueError("migration names must be unique")
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        return await conn.run_sync(_apply_pending, steps)


async def applied_migrations(engine: AsyncEngine) -> list[str]:
    """Names of the applied migrations, oldest first (empty on a blank database)."""
    async with engine.connect() as conn:
        exists = await conn.run_sync(lambda sync: inspect(sync).has_table(migrations_table.name))
        if not exists:
            return []
        result = await conn.execute(select(migrations_table.c.name).order_by(migrations_table.c.name))
        return list(result.scalars())
