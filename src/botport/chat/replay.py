"""A stored answer as the events of a turn, for a watcher that comes after the live log is gone.

Within the log's retention a reconnect replays the exact events after its sequence number. Later,
the stored answer stands in: ``turn.started`` (for a watcher from the start), ``message.completed``
with the whole answer (it replaces whatever the watcher had), the follow-ups or tool calls, and the
end — all numbered with the turn's last sequence number, so a watcher that already saw the end
gets nothing more.
"""

from __future__ import annotations

from typing import Literal

from botport.chat.eventlog import Entry
from botport.chat.events import (
    DomainEvent,
    FollowUps,
    MessageCompleted,
    ToolCallRequest,
    ToolCallsRequired,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
)
from botport.store.records import MessageRecord


def stored_entries(message: MessageRecord, *, bot: str, after: int, seen: int = 0) -> list[Entry]:
    """The entries after ``after`` that stand in for a finished turn's log; numbered past ``seen``
    too, the number a watcher that reads from the start (to render) has already seen."""
    last = message.last_seq or 0
    past = max(after, seen)
    if last and past >= last:
        return []
    end = max(last, past + 1, 2)
    out: list[Entry] = []
    if after < 1:
        started = TurnStarted(
            conversation_id=message.conversation_id, user_message_id="", message_id=message.id, bot=bot
        )
        out.append((1, started))
    tail: list[DomainEvent] = []
    if message.content or message.reasoning:
        status = "completed" if message.status == "streaming" else message.status  # never streaming here
        tail.append(MessageCompleted(content=message.content, reasoning=message.reasoning, status=status))
    if message.follow_ups:
        tail.append(FollowUps(tuple(message.follow_ups)))
    if message.status == "requires_action" and message.tool_calls:
        calls = stored_tool_calls(message)
        tail.append(ToolCallsRequired(chat_id=message.upstream_chat_id or "", tool_calls=calls))
    tail.append(ending(message))
    out.extend((end, event) for event in tail)
    return out


def stored_tool_calls(message: MessageRecord) -> tuple[ToolCallRequest, ...]:
    """The tool calls a ``requires_action`` answer stored, as the turn reported them."""
    return tuple(
        ToolCallRequest(id=str(c.get("id")), name=str(c.get("name")), arguments=str(c.get("arguments")))
        for c in message.tool_calls or ()
    )


def ending(message: MessageRecord) -> TurnCompleted | TurnFailed:
    """The terminal event of a stored answer."""
    if message.status in ("completed", "requires_action"):
        usage = Usage(message.input_tokens or 0, message.output_tokens or 0, message.total_tokens or 0)
        status: Literal["completed", "requires_action"] = (
            "requires_action" if message.status == "requires_action" else "completed"
        )
        return TurnCompleted(message_id=message.id, status=status, usage=usage)
    interrupted = message.status == "interrupted"
    http_status = 499 if interrupted else 504 if message.error_code == "upstream_timeout" else 502
    return TurnFailed(
        message_id=message.id,
        status="interrupted" if interrupted else "failed",
        code=message.error_code or ("interrupted" if interrupted else "failed"),
        message=message.error_message or "",
        http_status=http_status,
        logid=message.logid,
    )
