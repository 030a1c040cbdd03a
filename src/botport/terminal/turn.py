"""One turn read from botport's message stream into a :class:`TurnOutcome`.

A :class:`TurnListener` sees each increment as it arrives (the live view, or stdout for ``-m``);
the outcome holds what the turn ended with. ``message.completed`` carries the stored answer, which
wins over the joined increments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from botport.terminal.client import ApiError, BotportClient


class TurnListener(Protocol):
    def on_reasoning(self, text: str) -> None: ...

    def on_text(self, text: str) -> None: ...


@dataclass(slots=True)
class TurnOutcome:
    conversation_id: str
    content: str = ""
    reasoning: str = ""
    follow_ups: list[str] = field(default_factory=list)
    status: str = "streaming"  # completed, failed, interrupted, requires_action, or stopped (Ctrl-C)
    error: ApiError | None = None
    usage: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status in ("completed", "requires_action")


async def run_turn(
    client: BotportClient, conversation_id: str, question: str, listener: TurnListener
) -> TurnOutcome:
    """Send ``question`` and read the answer to its end. Errors end up in ``outcome.error``; a
    cancellation (Ctrl-C) propagates to the caller with the outcome so far kept in the listener."""
    outcome = TurnOutcome(conversation_id=conversation_id)
    try:
        async for frame in client.stream_turn(conversation_id, question):
            _apply(outcome, frame.event, frame.data, listener)
    except ApiError as exc:
        outcome.error = exc
        outcome.status = "failed"
    if outcome.status == "streaming" and outcome.error is None:
        outcome.status = "failed"
        outcome.error = ApiError("the stream ended before the turn completed")
    return outcome


def _apply(outcome: TurnOutcome, event: str, data: dict[str, Any], listener: TurnListener) -> None:
    if event == "text.delta":
        text = str(data.get("text", ""))
        outcome.content += text
        listener.on_text(text)
    elif event == "reasoning.delta":
        text = str(data.get("text", ""))
        outcome.reasoning += text
        listener.on_reasoning(text)
    elif event == "message.completed":
        outcome.content = str(data.get("content") or outcome.content)
        outcome.reasoning = str(data.get("reasoning") or outcome.reasoning)
    elif event == "follow_ups":
        outcome.follow_ups = [str(s) for s in data.get("suggestions", [])]
    elif event == "turn.completed":
        outcome.status = str(data.get("status") or "completed")
        usage = data.get("usage")
        outcome.usage = usage if isinstance(usage, dict) else None
    elif event == "error":
        outcome.status = str(data.get("turn_status") or "failed")
        outcome.error = ApiError(
            str(data.get("message") or "the turn failed"),
            status=int(data.get("status") or 0),
            code=str(data.get("code") or ""),
            logid=data.get("logid") or None,
        )
    # turn.started, tool_calls.required and unknown events need nothing here.
