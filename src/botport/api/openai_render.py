"""A turn's domain events in OpenAI's wire format: ``chat.completion.chunk`` frames, or one
``chat.completion`` built after the turn has run to its end."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
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

KEEPALIVE_SECONDS = 15.0
DONE_FRAME = b"data: [DONE]\n\n"


def completion_id(handle: TurnHandle) -> str:
    return f"chatcmpl-{handle.message_id}"


def _data(payload: dict[str, Any]) -> bytes:
    # ensure_ascii keeps U+2028/U+2029 escaped, so no client's line splitter can break a frame.
    return f"data: {json.dumps(payload, ensure_ascii=True, separators=(',', ':'))}\n\n".encode()


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
