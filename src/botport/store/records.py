"""What the store returns: small frozen records, read straight from rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

MessageRole = Literal["user", "assistant"]
MessageStatus = Literal["streaming", "completed", "failed", "interrupted", "requires_action"]

Rating = Literal["like", "unlike"]  # a user's feedback on an answer

MESSAGE_ROLES: frozenset[str] = frozenset({"user", "assistant"})
MESSAGE_STATUSES: frozenset[str] = frozenset(
    {"streaming", "completed", "failed", "interrupted", "requires_action"}
)


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: str
    owner: str
    bot: str
    title: str
    coze_conversation_id: str | None
    created_at: datetime
    updated_at: datetime  # last activity: a new message or a touch (a rename does not reorder)
    leaf_id: str | None = None  # the newest message of the branch being read
    pinned_at: datetime | None = None  # when the reader pinned it; None: not pinned

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ConversationRecord:
        return cls(
            id=row["id"],
            owner=row["owner"],
            bot=row["bot"],
            title=row["title"],
            coze_conversation_id=row["coze_conversation_id"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            leaf_id=row.get("leaf_id"),
            pinned_at=row.get("pinned_at"),
        )


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: str
    conversation_id: str
    role: MessageRole
    content: str
    reasoning: str
    status: MessageStatus
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    upstream_chat_id: str | None
    logid: str | None
    follow_ups: tuple[str, ...]
    error_code: str | None
    error_message: str | None
    tool_calls: list[dict[str, Any]] | None
    created_at: datetime
    updated_at: datetime
    # While streaming: the instance running the turn and its last heartbeat. Then: the last event's number.
    runner: str | None = None
    heartbeat_at: datetime | None = None
    last_seq: int | None = None
    # An answer's Coze message id (None for an answer stored before botport kept it) and its rating.
    upstream_message_id: str | None = None
    feedback: Rating | None = None
    feedback_comment: str | None = None
    # The message it follows (None: the first), and a left branch's Coze conversation (on its leaf).
    parent_id: str | None = None
    coze_conversation_id: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> MessageRecord:
        return cls(
            id=row["id"],
            conversation_id=row["conversation_id"],
            role=row["role"],
            content=row["content"],
            reasoning=row["reasoning"],
            status=row["status"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            total_tokens=row["total_tokens"],
            upstream_chat_id=row["upstream_chat_id"],
            logid=row["logid"],
            follow_ups=tuple(row["follow_ups"] or ()),
            error_code=row["error_code"],
            error_message=row["error_message"],
            tool_calls=row["tool_calls"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            runner=row.get("runner"),
            heartbeat_at=row.get("heartbeat_at"),
            last_seq=row.get("last_seq"),
            upstream_message_id=row.get("upstream_message_id"),
            feedback=row.get("feedback"),
            feedback_comment=row.get("feedback_comment"),
            parent_id=row.get("parent_id"),
            coze_conversation_id=row.get("coze_conversation_id"),
        )


@dataclass(frozen=True, slots=True)
class KeyQuota:
    """An API key's limits; None: no limit of that kind (requests: the server's default)."""

    requests_per_minute: int | None = None
    concurrent_turns: int | None = None
    turns_per_day: int | None = None
    tokens_per_day: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> KeyQuota:
        return cls(**{name: row.get(name) for name in QUOTA_FIELDS})

    def describe(self) -> str:
        """``requests_per_minute=60, turns_per_day=500``; ``-`` when there is no limit."""
        parts = [f"{name}={value}" for name, value in zip(QUOTA_FIELDS, self.values(), strict=True) if value]
        return ", ".join(parts) or "-"

    def values(self) -> tuple[int | None, ...]:
        return (self.requests_per_minute, self.concurrent_turns, self.turns_per_day, self.tokens_per_day)


QUOTA_FIELDS = ("requests_per_minute", "concurrent_turns", "turns_per_day", "tokens_per_day")


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key as listed; the key itself is never stored, only its sha256."""

    id: str
    name: str
    prefix: str  # the key's first characters, to recognise it in a list
    owner: str  # the identity its requests act as: "key:<id>"
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    quota: KeyQuota = KeyQuota()

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ApiKeyRecord:
        return cls(
            id=row["id"],
            name=row["name"],
            prefix=row["prefix"],
            owner=row["owner"],
            created_at=row["created_at"],
            last_used_at=row["last_used_at"],
            revoked_at=row["revoked_at"],
            quota=KeyQuota.from_row(row),
        )
