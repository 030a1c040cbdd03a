"""Domain events of a turn: provider-neutral and few. Each edge renders them in its own wire format;
no edge parses Coze JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass(frozen=True, slots=True)
class TurnStarted:
    conversation_id: str
    user_message_id: str
    message_id: str  # the assistant message being written
    bot: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class MessageCompleted:
    """One whole answer message (a workflow may send several in one turn). ``status`` is the message's
    own: ``completed`` as it arrives; a stored answer replayed after its turn ended has the status it
    was stored with."""

    content: str
    reasoning: str = ""
    status: Literal["completed", "failed", "interrupted", "requires_action"] = "completed"


@dataclass(frozen=True, slots=True)
class FollowUps:
    suggestions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ToolCallsRequired:
    chat_id: str
    tool_calls: tuple[ToolCallRequest, ...]


@dataclass(frozen=True, slots=True)
class TurnCompleted:
    message_id: str
    status: Literal["completed", "requires_action"]
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class TurnFailed:
    """The turn ended early; the partial answer is stored with ``status``.

    ``retryable``: sending the question again may well succeed and costs no second Coze chat for
    nothing (Coze was not reached, or refused before a chat began). False once a Coze chat ran:
    a client's automatic retry would only start another one (``x-should-retry: false``).
    """

    message_id: str | None
    status: Literal["failed", "interrupted"]
    code: str
    message: str
    http_status: int = 502
    upstream_code: int | None = None
    logid: str | None = None
    retryable: bool = False


DomainEvent = (
    TurnStarted
    | TextDelta
    | ReasoningDelta
    | MessageCompleted
    | FollowUps
    | ToolCallsRequired
    | TurnCompleted
    | TurnFailed
)
