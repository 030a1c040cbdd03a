"""A turn's domain events in OpenAI's wire format: ``chat.completion.chunk`` frames, or one
``chat.completion`` built after the turn has run to its end."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from botport.api.openai_errors import stream_error_frame
from botport.api.openai_schemas import (
    CompletionIds,
    FinishReason,
    chunk_object,
    completion_object,
    tool_call_objects,
)
from botport.api.sse import KEEPALIVE_FRAME
from botport.chat.events import (
    ReasoningDelta,
    TextDelta,
    ToolCallRequest,
    ToolCallsRequired,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
)
from botport.chat.service import ChatService
from botport.chat.turn import KEEPALIVE, Turn
from botport.store import repository as repo

KEEPALIVE_SECONDS = 15.0
DONE_FRAME = b"data: [DONE]\n\n"


def completion_id(turn: Turn) -> str:
    return f"chatcmpl-{turn.answer.id}"


def _data(payload: dict[str, Any]) -> bytes:
    # ensure_ascii keeps U+2028/U+2029 escaped, so no client's line splitter can break a frame.
    return f"data: {json.dumps(payload, ensure_ascii=True, separators=(',', ':'))}\n\n".encode()


async def completion_chunks(
    turn: Turn, *, model: str, created: int, include_usage: bool
) -> AsyncIterator[bytes]:
    """OpenAI's stream: a role chunk, content / reasoning / tool-call deltas, a chunk with the
    ``finish_reason``, the usage chunk when asked, ``[DONE]``. A failed turn ends with
    ``data: {"error": {...}}`` instead, which OpenAI clients raise as an error."""
    ids = CompletionIds(completion_id(turn), created, model)
    async for event in turn.events(keepalive=KEEPALIVE_SECONDS):
        if event is KEEPALIVE:
            yield KEEPALIVE_FRAME
        elif isinstance(event, TurnStarted):
            yield _data(chunk_object(ids, delta={"role": "assistant", "content": ""}))
        elif isinstance(event, ReasoningDelta):
            yield _data(chunk_object(ids, delta={"reasoning_content": event.text}))
        elif isinstance(event, TextDelta):
            yield _data(chunk_object(ids, delta={"content": event.text}))
        elif isinstance(event, ToolCallsRequired):
            calls = tool_call_objects(event.tool_calls, indexed=True)
            yield _data(chunk_object(ids, delta={"tool_calls": calls}))
        elif isinstance(event, TurnCompleted):
            finish: FinishReason = "tool_calls" if event.status == "requires_action" else "stop"
            yield _data(chunk_object(ids, finish_reason=finish))
            if include_usage:
                yield _data(chunk_object(ids, usage=event.usage))
            yield DONE_FRAME
        elif isinstance(event, TurnFailed):
            yield stream_error_frame(event)
        # MessageCompleted repeats what the deltas said; FollowUps have no place in OpenAI's format.


@dataclass(frozen=True, slots=True)
class Outcome:
    """A turn run to its end: the ``chat.completion``, or the failure."""

    completion: dict[str, Any] | None
    failure: TurnFailed | None


async def run_completion(chat: ChatService, turn: Turn, *, model: str, created: int) -> Outcome:
    """Serve a non-streaming request from the same upstream stream, then read the stored answer."""
    usage, failure = Usage(), None
    calls: tuple[ToolCallRequest, ...] = ()
    async for event in turn.events():
        if isinstance(event, ToolCallsRequired):
            calls = event.tool_calls
        elif isinstance(event, TurnCompleted):
            usage = event.usage
        elif isinstance(event, TurnFailed):
            failure = event
    if failure is not None:
        return Outcome(None, failure)
    async with chat.db.read() as conn:
        record = await repo.get_message(conn, turn.answer.id)
    assert record is not None
    completion = completion_object(
        CompletionIds(completion_id(turn), created, model),
        content=record.content,
        reasoning=record.reasoning,
        tool_calls=calls,
        usage=usage,
    )
    return Outcome(completion, None)
