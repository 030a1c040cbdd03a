"""What the store knows of running turns: their lease, their checkpoints, the orphans a dead instance
left behind, and the idempotency keys of the requests that started them.

A running turn is an assistant message with status ``streaming``. Its ``runner`` is the instance
running it and ``heartbeat_at`` the last time that instance said so (every checkpoint tick). A
``streaming`` row whose heartbeat is older than the lease belongs to a dead instance: it is
resolved as ``failed`` with the text it had (:func:`resolve_orphans`), so the conversation takes a
new turn, and the caller cancels its Coze chat.

The functions are synchronous: they are write ops for :meth:`botport.store.db.Database.write`
(several turns' starts, ends and checkpoints share one transaction), or run through ``run_sync``.
A turn costs four write statements when it starts (a row lock, the running-answer check, one
INSERT of the question and the answer, one UPDATE of the conversation) and three when it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, String, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from botport.store.attachments import link_attachments, unlink_messages
from botport.store.branches import remember_coze_conversation, return_to_branch
from botport.store.history import chain_hash, refresh_history_hash
from botport.store.history import history_hash as hash_of_turns
from botport.store.idempotency import IdempotentTurn, find_idempotent, remember_idempotent
from botport.store.keys import add_key_usage
from botport.store.records import ConversationRecord, MessageRecord, MessageRole
from botport.store.repository import insert_conversation, new_message_values
from botport.store.tables import conversations, idempotency_keys, messages
from botport.store.thread import path_to
from botport.store.types import utcnow

ORPHAN_CODE = "turn_lost"
ORPHAN_MESSAGE = "The server stopped before the answer was complete."
ORPHANS_PER_STATEMENT = 500  # ids in one IN list (SQLite allows 32,766 bound values at most)


@dataclass(frozen=True, slots=True)
class Orphan:
    """A turn resolved as failed because its instance died; its Coze chat may still be running."""

    message_id: str
    conversation_id: str
    upstream_chat_id: str | None
    coze_conversation_id: str | None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What a running turn has so far, written at a bounded interval (never per delta)."""

    message_id: str
    conversation_id: str
    content: str
    reasoning: str
    upstream_chat_id: str | None
    coze_conversation_id: str | None


@dataclass(frozen=True, slots=True)
class NewConversation:
    """A conversation that a turn starts: created by :func:`begin_turn` in the turn's own write, so
    a turn refused before it began leaves no conversation behind. ``earlier``: (role, text) turns
    stored before the question (an OpenAI client's history)."""

    bot: str
    title: str = ""
    earlier: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class NewTurn:
    """What :func:`begin_turn` stores: the question (None when tool outputs continue a chat), the
    placeholder answer's runner, and the Idempotency-Key that started it."""

    owner: str
    conversation_id: str
    question: str | None
    title: str  # the conversation's title if it has none yet
    runner: str
    lease: timedelta
    idempotency_key: str | None = None
    fingerprint: str = ""
    # Raises when the conversation cannot take this turn (say, its bot was removed): nothing stored.
    check: Callable[[ConversationRecord], None] | None = None
    # Create the conversation (id ``conversation_id``) first, in the same transaction.
    new_conversation: NewConversation | None = None
    # A new version of a question or an answer, rather than the next message of the branch being read.
    branch: BranchPoint | None = None
    attachment_ids: tuple[str, ...] = ()  # the owner's unsent uploads the question carries (linked here)


@dataclass(frozen=True, slots=True)
class BranchPoint:
    """Where a new branch starts: the message the turn's first new message follows (None: the
    conversation's start). Editing a question follows the question's parent; regenerating an answer
    follows its question, and stores no new question (``NewTurn.question`` is None)."""

    parent_id: str | None


@dataclass(frozen=True, slots=True)
class BegunTurn:
    conversation: ConversationRecord  # as it was before this turn
    user: MessageRecord | None
    answer: MessageRecord
    orphans: list[Orphan]  # a dead instance's turn in this conversation, resolved to make room


class ConversationTaken(Exception):
    """A live turn already runs in the conversation; ``repeated``: the one this Idempotency-Key
    started (or the key was taken by a concurrent request)."""

    def __init__(self, *, repeated: bool) -> None:
        super().__init__("a turn is already running in this conversation")
        self.repeated = repeated


class ConversationGone(Exception):
    """The conversation was deleted."""


class BranchPointGone(Exception):
    """The message a new branch was to follow is not in the conversation (deleted meanwhile)."""


# --- starting and ending a turn ----------------------------------------------------------------

# Built once: executing a prebuilt statement skips building it and its cache key every time (most of
# what a statement cost here), so a turn's writes hold SQLite for microseconds, not milliseconds.
_CONVERSATION = select(conversations).where(
    conversations.c.id == bindparam("b_id"), conversations.c.owner == bindparam("b_owner")
)
_CONVERSATION_FOR_UPDATE = _CONVERSATION.with_for_update()
_RUNNING_ANSWER = (
    select(messages)
    .where(messages.c.conversation_id == bindparam("b_id"), messages.c.status == "streaming")
    .order_by(messages.c.created_at.desc())
    .limit(1)
)
_INSERT_MESSAGES = insert(messages)
_TURN_BEGUN = (
    update(conversations)
    .where(conversations.c.id == bindparam("b_id"))
    .values(
        updated_at=bindparam("b_at"),
        history_hash=bindparam("b_hash"),
        title=bindparam("b_title"),
        leaf_id=bindparam("b_leaf"),
    )
)
# A new branch has no Coze conversation yet: the turn starts one, seeded with the branch's history.
_BRANCH_BEGUN = _TURN_BEGUN.values(coze_conversation_id=None)
ENDING_FIELDS = (
    "content",
    "reasoning",
    "status",
    "follow_ups",
    "upstream_chat_id",
    "upstream_message_id",
    "last_seq",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "tool_calls",
    "error_code",
    "error_message",
    "logid",
    "coze_conversation_id",  # the Coze conversation holding the answer (a branch's, see store.branches)
)
_ANSWER_ENDED = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"), messages.c.status == "streaming")
    .values(
        {
            **{name: bindparam(f"b_{name}") for name in ENDING_FIELDS},
            "history_hash": bindparam("b_history_hash"),
            "updated_at": bindparam("b_at"),
        }
    )
)
_HISTORY_HASH = select(conversations.c.history_hash).where(conversations.c.id == bindparam("b_id"))
_COZE_ID = func.coalesce(bindparam("b_coze", type_=String), conversations.c.coze_conversation_id)
_TURN_ENDED = (
    update(conversations)
    .where(conversations.c.id == bindparam("b_id"))
    .values(updated_at=bindparam("b_at"), coze_conversation_id=_COZE_ID)
)
_TURN_COMPLETED = _TURN_ENDED.values(history_hash=bindparam("b_hash"))


def begin_turn(conn: Connection, *, turn: NewTurn) -> BegunTurn:
    """Store the question and the placeholder answer (status ``streaming``, this instance's lease)
    of a new turn — the only write a turn makes before Coze is asked — creating its conversation
    first when the turn starts one.

    Raises :class:`ConversationTaken` when a live turn runs in the conversation (one whose instance
    died is resolved as failed first) and :class:`ConversationGone` when it was deleted.
    """
    conversation_id = turn.conversation_id
    orphans: list[Orphan] = []
    earlier: tuple[tuple[str, str], ...] = ()
    if turn.new_conversation is not None:
        # Nothing can be running in a conversation made just now: no lock, no running-answer check.
        new = turn.new_conversation
        conversation = insert_conversation(
            conn, owner=turn.owner, bot=new.bot, title=new.title, conversation_id=conversation_id
        )
        earlier, history_hash = new.earlier, None
    else:
        conversation, history_hash = _conversation_to_take(conn, turn=turn)
    if turn.check is not None:
        turn.check(conversation)
    if turn.new_conversation is None:
        orphans = _make_room(conn, turn=turn)
    parent = conversation.leaf_id
    if turn.branch is not None:
        history_hash = _start_branch(conn, conversation=conversation, parent_id=turn.branch.parent_id)
        parent = turn.branch.parent_id
    rows = []
    title = conversation.title
    # Stored as they were sent, so the client's next request (this history + the answer) matches.
    for role, text in earlier:
        stored_role: MessageRole = "assistant" if role == "assistant" else "user"
        history_hash = chain_hash(history_hash or "", stored_role, text)
        rows.append(new_message_values(conversation_id, stored_role, text, history_hash=history_hash))
    if turn.question is not None:
        # The question is the conversation's newest completed message: chain it onto the hash.
        history_hash = chain_hash(history_hash or "", "user", turn.question)
        rows.append(new_message_values(conversation_id, "user", turn.question, history_hash=history_hash))
        title = title or turn.title
    rows.append(
        new_message_values(
            conversation_id, "assistant", "", status="streaming", runner=turn.runner, heartbeat_at=utcnow()
        )
    )
    for row in rows:  # each follows the one before it, the first the branch's end (or its point)
        row["parent_id"], parent = parent, row["id"]
    conn.execute(_INSERT_MESSAGES, rows)
    if turn.attachment_ids and turn.question is not None:  # raises AttachmentsTaken: one was sent already
        link_attachments(conn, owner=turn.owner, ids=turn.attachment_ids, message_id=rows[-2]["id"])
    changes = {
        "b_id": conversation_id,
        "b_at": rows[-1]["created_at"],
        "b_hash": history_hash,
        "b_title": title,
        "b_leaf": rows[-1]["id"],
    }
    conn.execute(_TURN_BEGUN if turn.branch is None else _BRANCH_BEGUN, changes)
    if turn.branch is not None:
        conversation = replace(conversation, coze_conversation_id=None)
    records = [MessageRecord.from_row(values) for values in rows[len(earlier) :]]
    answer = records[-1]
    if turn.idempotency_key:
        record = IdempotentTurn(turn.fingerprint, conversation_id, answer.id)
        if not remember_idempotent(conn, owner=turn.owner, key=turn.idempotency_key, turn=record):
            raise ConversationTaken(repeated=True)
    return BegunTurn(conversation, records[0] if len(records) == 2 else None, answer, orphans)


def _start_branch(conn: Connection, *, conversation: ConversationRecord, parent_id: str | None) -> str | None:
    """Keep the branch being left where coming back finds it, and return the history hash of the
    new branch's start (the messages up to ``parent_id``)."""
    path = path_to(conn, conversation_id=conversation.id, message_id=parent_id)
    if parent_id is not None and (not path or path[-1].id != parent_id):
        raise BranchPointGone(parent_id)
    remember_coze_conversation(conn, conversation=conversation)
    turns = [(m.role, m.content) for m in path if m.status == "completed"]
    return hash_of_turns(turns) if turns else None


def _conversation_to_take(conn: Connection, *, turn: NewTurn) -> tuple[ConversationRecord, str | None]:
    """The conversation and its history hash, locked for this turn."""
    # On PostgreSQL the row stays locked (FOR UPDATE) until the transaction ends, which serializes
    # turn starts in one conversation; SQLite's BEGIN IMMEDIATE already serializes writers.
    query = _CONVERSATION_FOR_UPDATE if conn.dialect.name == "postgresql" else _CONVERSATION
    row = conn.execute(query, {"b_id": turn.conversation_id, "b_owner": turn.owner}).mappings().first()
    if row is None:
        raise ConversationGone(turn.conversation_id)
    return ConversationRecord.from_row(row), row["history_hash"]


def _make_room(conn: Connection, *, turn: NewTurn) -> list[Orphan]:
    """Raise when a live turn runs in the conversation; resolve a dead instance's turn there."""
    live = running_answer(conn, conversation_id=turn.conversation_id)
    if live is None:
        return []
    if is_alive(live, turn.lease):
        key = turn.idempotency_key
        raise ConversationTaken(repeated=bool(key and find_idempotent(conn, owner=turn.owner, key=key)))
    return resolve_orphans(conn, lease=turn.lease, conversation_id=turn.conversation_id)


def end_turn(
    conn: Connection,
    *,
    answer: MessageRecord,
    fields: dict[str, Any],
    coze_conversation_id: str | None,
    key_id: str | None = None,
) -> bool:
    """Store a turn's outcome (``fields``: some of :data:`ENDING_FIELDS`, with ``status``; the others
    are left empty), the Coze conversation it learnt if any, and chain a completed answer onto the
    history hash; a turn asked with an API key (``key_id``) counts in its usage of the day. False when
    the answer is no longer ``streaming`` (deleted with its conversation, or resolved by a sweep)."""
    unknown = set(fields) - set(ENDING_FIELDS)
    if unknown:
        raise ValueError(f"not an ending field: {', '.join(sorted(unknown))}")
    now = utcnow()
    values = {f"b_{name}": fields.get(name) for name in ENDING_FIELDS}
    values["b_follow_ups"] = list(fields.get("follow_ups") or ())
    completed = fields["status"] == "completed"
    values["b_history_hash"] = None
    if completed:
        # One turn at a time per conversation: the answer is its newest message, so it extends the chain.
        current = conn.scalar(_HISTORY_HASH, {"b_id": answer.conversation_id})
        values["b_history_hash"] = chain_hash(current or "", "assistant", fields.get("content") or "")
    stored = conn.execute(_ANSWER_ENDED, {**values, "b_id": answer.id, "b_at": now})
    if stored.rowcount == 0:
        return False
    if key_id is not None:
        add_key_usage(conn, key_id=key_id, tokens=int(fields.get("total_tokens") or 0))
    changes: dict[str, Any] = {"b_id": answer.conversation_id, "b_at": now, "b_coze": coze_conversation_id}
    if not completed:
        conn.execute(_TURN_ENDED, changes)
        return True
    changes["b_hash"] = values["b_history_hash"]
    conn.execute(_TURN_COMPLETED, changes)
    return True


# --- the lease --------------------------------------------------------------------------------


def running_answer(conn: Connection, *, conversation_id: str) -> MessageRecord | None:
    """The answer being written in the conversation (status ``streaming``), alive or not."""
    row = conn.execute(_RUNNING_ANSWER, {"b_id": conversation_id}).mappings().first()
    return MessageRecord.from_row(row) if row is not None else None


def is_alive(message: MessageRecord, lease: timedelta, now: datetime | None = None) -> bool:
    """Whether the instance running this turn has given a sign of life within the lease."""
    seen = message.heartbeat_at or message.created_at
    return seen > (now or utcnow()) - lease


_HEARTBEAT = (  # one statement per 500 running turns, not one per turn
    update(messages)
    .where(messages.c.id.in_(bindparam("b_ids", expanding=True)), messages.c.status == "streaming")
    .values(heartbeat_at=bindparam("b_now"))
)
_CHECKPOINT = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"), messages.c.status == "streaming")
    .values(
        content=bindparam("b_content"),
        reasoning=bindparam("b_reasoning"),
        upstream_chat_id=bindparam("b_chat"),
        heartbeat_at=bindparam("b_now"),
    )
)
_COZE_CONVERSATION = (
    update(conversations)
    .where(conversations.c.id == bindparam("b_id"))
    .values(coze_conversation_id=bindparam("b_coze"))
)


def heartbeat(conn: Connection, *, message_ids: Sequence[str]) -> None:
    """These running turns are alive. By id, not by instance: an answer row that no running turn
    holds (its start was abandoned) stops being renewed and is resolved by a sweep."""
    now = utcnow()
    for start in range(0, len(message_ids), ORPHANS_PER_STATEMENT):
        chunk = list(message_ids[start : start + ORPHANS_PER_STATEMENT])
        conn.execute(_HEARTBEAT, {"b_ids": chunk, "b_now": now})


def checkpoint(conn: Connection, *, points: Sequence[Checkpoint]) -> None:
    """Write several turns' partial answers (and the Coze ids they learnt) in one transaction."""
    if not points:
        return
    now = utcnow()
    conn.execute(
        _CHECKPOINT,
        [
            {
                "b_id": p.message_id,
                "b_content": p.content,
                "b_reasoning": p.reasoning,
                "b_chat": p.upstream_chat_id,
                "b_now": now,
            }
            for p in points
        ],
    )
    learnt = [p for p in points if p.coze_conversation_id]
    if learnt:
        conn.execute(
            _COZE_CONVERSATION,
            [{"b_id": p.conversation_id, "b_coze": p.coze_conversation_id} for p in learnt],
        )


def resolve_orphans(
    conn: Connection,
    *,
    lease: timedelta | None,
    conversation_id: str | None = None,
    keep: Collection[str] = (),
) -> list[Orphan]:
    """Mark ``streaming`` answers whose instance is gone as ``failed``, keeping their text.

    ``lease=None`` takes every streaming answer (a single instance, on start: nothing else can be
    running them); otherwise only those without a heartbeat for ``lease``. ``keep``: the answers the
    caller itself is running — never its own, even when its heartbeat was late (a loop too busy to
    write it). Several instances may sweep at once: the UPDATE takes each row once.
    """
    now = utcnow()
    candidates = select(messages.c.id).where(messages.c.status == "streaming")
    if conversation_id is not None:
        candidates = candidates.where(messages.c.conversation_id == conversation_id)
    if lease is not None:
        cutoff = now - lease
        candidates = candidates.where(
            or_(
                messages.c.heartbeat_at < cutoff,
                and_(messages.c.heartbeat_at.is_(None), messages.c.created_at < cutoff),
            )
        )
    ids = [message_id for message_id in conn.execute(candidates).scalars() if message_id not in keep]
    rows: list[Row[Any]] = []
    for start in range(0, len(ids), ORPHANS_PER_STATEMENT):
        chunk = ids[start : start + ORPHANS_PER_STATEMENT]
        rows += conn.execute(
            update(messages)
            .where(messages.c.id.in_(chunk), messages.c.status == "streaming")
            .values(
                status="failed",
                error_code=func.coalesce(messages.c.error_code, ORPHAN_CODE),
                error_message=func.coalesce(messages.c.error_message, ORPHAN_MESSAGE),
                updated_at=now,
            )
            .returning(messages.c.id, messages.c.conversation_id, messages.c.upstream_chat_id)
        ).all()
    if not rows:
        return []
    coze_ids = dict(
        conn.execute(
            select(conversations.c.id, conversations.c.coze_conversation_id).where(
                conversations.c.id.in_({row.conversation_id for row in rows})
            )
        ).all()
    )
    return [
        Orphan(row.id, row.conversation_id, row.upstream_chat_id, coze_ids.get(row.conversation_id))
        for row in rows
    ]


# --- discarding a turn that never began -------------------------------------------------------


def discard_turn(
    conn: Connection, *, answer_id: str, user_message_id: str | None, with_conversation: bool = False
) -> None:
    """Remove a turn Coze refused before it began (the conversation was still busy on Coze's side):
    the question and the empty answer go, with the idempotency key that pointed at them, so a retry
    starts afresh and no ``failed`` turn is stored for a refusal. ``with_conversation``: the turn's
    start created the conversation; it goes too."""
    ids = [answer_id] + ([user_message_id] if user_message_id else [])
    first = conn.execute(
        select(messages.c.conversation_id, messages.c.parent_id).where(
            messages.c.id == (user_message_id or answer_id)
        )
    ).first()
    unlink_messages(conn, message_ids=ids)  # the question's uploads wait for the retry, unsent again
    conn.execute(delete(messages).where(messages.c.id.in_(ids)))
    conn.execute(delete(idempotency_keys).where(idempotency_keys.c.message_id == answer_id))
    if first is None:
        return
    conversation_id, parent_id = first
    if with_conversation:
        conn.execute(delete(conversations).where(conversations.c.id == conversation_id))
    else:
        return_to_branch(conn, conversation_id=conversation_id, parent_id=parent_id)
        refresh_history_hash(conn, conversation_id=conversation_id)
