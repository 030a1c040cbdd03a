"""A turn's domain events in OpenAI's wire format: ``chat.completion.chunk`` frames, or one
``chat.completion`` built after the turn has run to its end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from botport.api.errors import openai_error, turn_failure
from botport.api.openai_schemas import (
    CompletionIds,
    FinishReason,
    chunk_object,
    completion_object,
    tool_call_objects,
)
from botport.chat.eventlog import Entry, Keepalive
from botport.chat.events import (
    ReasoningDelta,
    TextDelta,
    ToolCallsRequired,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from botport.chat.handles import TurnHandle, TurnResult
from botport.chat.replay import stored_tool_calls
from botport.sse import KEEPALIVE_FRAME, frame

DONE_FRAME = b"data: [DONE]\n\n"  # OpenAI's end of a stream: the one data line that is not JSON


def completion_id(handle: TurnHandle) -> str:
    return f"chatcmpl-{handle.message_id}"


def failed_turn(event: TurnFailed) -> dict[str, Any]:
    """A failed turn in OpenAI's error shape: the body of a non-streaming answer, or a stream's end."""
    return openai_error(event.http_status, turn_failure(event))


async def completion_chunks(
    handle: TurnHandle,
    events: AsyncIterator[Entry | Keepalive],
    *,
    model: str,
    created: int,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """OpenAI's stream: a role chunk, content / reasoning / tool-call deltas, a chunk with the
    ``finish_reason``, the usage chunk when asked, ``[DONE]``. A failed turn ends with
    ``data: {"error": {...}}`` instead, which OpenAI clients raise as an error."""
    ids = CompletionIds(completion_id(handle), created, model)
    async for item in events:
        if isinstance(item, Keepalive):
            yield KEEPALIVE_FRAME
            continue
        event = item[1]
        if isinstance(event, TurnStarted):
            yield frame(chunk_object(ids, delta={"role": "assistant", "content": ""}))
        elif isinstance(event, ReasoningDelta):
            yield frame(chunk_object(ids, delta={"reasoning_content": event.text}))
        elif isinstance(event, TextDelta):
            yield frame(chunk_object(ids, delta={"content": event.text}))
        elif isinstance(event, ToolCallsRequired):
            calls = tool_call_objects(event.tool_calls, indexed=True)
            yield frame(chunk_object(ids, delta={"tool_calls": calls}))
        elif isinstance(event, TurnCompleted):
            finish: FinishReason = "tool_calls" if event.status == "requires_action" else "stop"
            yield frame(chunk_object(ids, finish_reason=finish))
            if include_usage:
                yield frame(chunk_object(ids, usage=event.usage))
            yield DONE_FRAME
        elif isinstance(event, TurnFailed):
            yield frame(failed_turn(event))
        # MessageCompleted repeats what the deltas said; FollowUps have no place in OpenAI's format.


def completion(handle: TurnHandle, result: TurnResult, *, model: str, created: int) -> dict[str, Any]:
    """The ``chat.completion`` of a turn that completed, from its stored answer."""
    record = result.message
    assert isinstance(result.end, TurnCompleted)
    calls = stored_tool_calls(record)
    return completion_object(
        CompletionIds(completion_id(handle), created, model),
        content=record.content,
        reasoning=record.reasoning,
        tool_calls=calls,
        usage=result.end.usage,
    )
