"""The current schema, as SQLAlchemy Core tables. Queries use these.

A change here needs a new migration in :mod:`botport.store.migrations` (the migrations keep their
own frozen copy of each step); ``tests/store`` checks that the migrated database matches this file.

``conversations.history_hash`` is the sha256 of the conversation's completed messages (see
:func:`botport.store.history.history_hash`). It lets the OpenAI edge, whose clients resend the
whole history each time, find the stored conversation that the history continues with one indexed
lookup instead of comparing message lists.

The search index is not here: it is one backend's own (SQLite: FTS5 tables kept by triggers;
PostgreSQL: a GIN expression index), made by migration ``0006_search_and_pins`` and read by
:mod:`botport.store.search`, which names it in ``SEARCH_OBJECTS``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from botport.store.types import UTCDateTime

# Stable constraint names, so later migrations can alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(32), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("owner", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    # The key's quota: each limit None (the server's default, or no limit).
    Column("requests_per_minute", Integer, nullable=True),
    Column("concurrent_turns", Integer, nullable=True),
    Column("turns_per_day", Integer, nullable=True),
    Column("tokens_per_day", Integer, nullable=True),
)

# What each key used per UTC day ("2026-11-27"): turns that reached Coze, and their tokens.
key_usage = Table(
    "key_usage",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("turns", Integer, nullable=False),
    Column("tokens", Integer, nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("bot", String(64), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("coze_conversation_id", String(128), nullable=True),
    Column("history_hash", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The newest message of the branch the reader is on (see botport.store.branches); NULL: no message.
    Column("leaf_id", String(32), nullable=True),
    # When the reader pinned it (NULL: not pinned); pinned conversations list first.
    Column("pinned_at", UTCDateTime, nullable=True),
    Index(None, "owner", "updated_at", "id"),
    Index(None, "owner", "bot", "history_hash"),
    Index(None, "owner", "pinned_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "conversation_id",
        String(32),
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("role", String(16), nullable=False),
    Column("content", Text, nullable=False, default=""),
    Column("reasoning", Text, nullable=False, default=""),
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
    # While 'streaming': the instance running the turn and its last heartbeat (the turn's lease).
    Column("runner", String(64), nullable=True),
    Column("heartbeat_at", UTCDateTime, nullable=True),
    # The sequence number of the turn's last event, once it has ended.
    Column("last_seq", Integer, nullable=True),
    # An answer's Coze message id (its last ``answer`` message), and the user's rating of it:
    # 'like' | 'unlike' | NULL, with an optional comment (sent to Coze as the message's feedback).
    Column("upstream_message_id", String(128), nullable=True),
    Column("feedback", String(16), nullable=True),
    Column("feedback_comment", Text, nullable=True),
    # The message this one follows (NULL: the conversation's first); messages with the same parent are
    # versions of one another (an edited question, a regenerated answer). See botport.store.branches.
    Column("parent_id", String(32), nullable=True),
    # On a branch's newest message: the Coze conversation holding that branch, kept when the reader
    # switched to another branch, so coming back continues there.
    Column("coze_conversation_id", String(128), nullable=True),
    # A completed message's history hash: the chain (botport.store.history) over the completed messages
    # from the conversation's first to this one, along its branch. A client's resent history that ends
    # here (an edit or a regenerate in an OpenAI client) is found by it: the new turn branches off here.
    Column("history_hash", String(64), nullable=True),
    Index(None, "conversation_id", "created_at"),
    Index(None, "history_hash"),
    # Finding rows left 'streaming' by a crash, on start.
    Index(None, "status"),
)

# A client's Idempotency-Key: a repeated request with the same key from the same identity re-attaches
# to the turn the first one started. Kept for a day (see botport.store.idempotency.IDEMPOTENCY_TTL).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("owner", String(255), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("conversation_id", String(32), nullable=False),
    Column("message_id", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "created_at"),
)

# A response of the OpenAI Responses edge (botport.api.openai_responses): one answer message, and what
# the request said that the message does not keep (its input items, the parameters echoed back).
responses = Table(
    "responses",
    metadata,
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

# An image or file a user attached to a question (botport.store.attachments). The bytes are in the
# database, so every instance sharing it serves them. ``message_id`` is NULL from the upload until the
# question that carries it is stored; deleting the message (with its conversation) deletes the row.
attachments = Table(
    "attachments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column(
        "message_id",
        String(32),
        ForeignKey("messages.id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("name", String(255), nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("size", Integer, nullable=False),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    # Coze's id of the uploaded copy (POST /v1/files/upload), what a question's parts name.
    Column("coze_file_id", String(128), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "message_id"),
    # Sweeping uploads that were never sent.
    Index(None, "created_at"),
)
