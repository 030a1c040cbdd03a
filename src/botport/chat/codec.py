"""Domain events to compact JSON and back, for logs that leave the process (Redis Streams)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from botport.chat.events import (
    DomainEvent,
    FollowUps,
    MessageCompleted,
    ReasoningDelta,
    TextDelta,
    ToolCallRequest,
    ToolCallsRequired,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
)

_NAMES: dict[type[Any], str] = {
    TurnStarted: "started",
    TextDelta: "text",
    ReasoningDelta: "reasoning",
    MessageCompleted: "message",
    FollowUps: "follow_ups",
    ToolCallsRequired: "tool_calls",
    TurnCompleted: "completed",
    TurnFailed: "failed",
}


def encode(event: DomainEvent) -> bytes:
    name = _NAMES[type(event)]
    data = asdict(event)
    if isinstance(event, MessageCompleted) and event.status == "completed":
        # The default, left out: the entry reads the same to an instance from before the field.
        del data["status"]
    return json.dumps([name, data], ensure_ascii=False, separators=(",", ":")).encode()


def decode(raw: bytes | str) -> DomainEvent:
    name, data = json.loads(raw)
    if name == "text":
        return TextDelta(data["text"])
    if name == "reasoning":
        return ReasoningDelta(data["text"])
    if name == "started":
        return TurnStarted(**data)
    if name == "message":
        return MessageCompleted(**data)
    if name == "follow_ups":
        return FollowUps(tuple(data["suggestions"]))
    if name == "tool_calls":
        calls = tuple(ToolCallRequest(**call) for call in data["tool_calls"])
        return ToolCallsRequired(chat_id=data["chat_id"], tool_calls=calls)
    if name == "completed":
        return TurnCompleted(
            message_id=data["message_id"], status=data["status"], usage=Usage(**data["usage"])
        )
    if name == "failed":
        return TurnFailed(**data)
    raise ValueError(f"unknown event {name!r}")
