"""OpenAI's chat-completions wire format: the request as botport reads it, and the response objects.

Requests are read leniently (OpenAI clients send many parameters a Coze bot has no use for: they are
accepted and ignored); responses are plain dicts built to OpenAI's published shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from botport.chat.events import ToolCallRequest, Usage

CONVERSATION_HEADER = "X-Botport-Conversation-Id"


class _Lenient(BaseModel):
    # Unknown parameters are accepted; the known ones must have their declared JSON types.
    model_config = ConfigDict(extra="allow", strict=True)


class ContentPart(_Lenient):
    type: str
    text: str | None = None


class FunctionIn(_Lenient):
    name: str = ""
    arguments: str = ""


class ToolCallIn(_Lenient):
    id: str
    type: str = "function"
    function: FunctionIn = Field(default_factory=FunctionIn)


class ChatMessageIn(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatCompletionRequest(_Lenient):
    """``temperature``, ``max_tokens``, ``tools`` and the rest are accepted and ignored."""

    model: str = Field(min_length=1)
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = None

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


# --- responses --------------------------------------------------------------------------------


def model_object(slug: str, created: int) -> dict[str, Any]:
    return {"id": slug, "object": "model", "created": created, "owned_by": "botport"}


def usage_object(usage: Usage) -> dict[str, int]:
    total = usage.total_tokens or usage.input_tokens + usage.output_tokens
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": total,
    }


def tool_call_objects(calls: tuple[ToolCallRequest, ...], *, indexed: bool = False) -> list[dict[str, Any]]:
    """OpenAI ``tool_calls``; stream deltas also carry each call's ``index``."""
    out = []
    for index, call in enumerate(calls):
        item: dict[str, Any] = {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        out.append({"index": index, **item} if indexed else item)
    return out


FinishReason = Literal["stop", "tool_calls"]


@dataclass(frozen=True, slots=True)
class CompletionIds:
    """What every object of one completion repeats."""

    id: str
    created: int
    model: str


def completion_object(
    ids: CompletionIds,
    *,
    content: str,
    reasoning: str,
    tool_calls: tuple[ToolCallRequest, ...],
    usage: Usage,
) -> dict[str, Any]:
    """A non-streaming ``chat.completion``."""
    message: dict[str, Any] = {"role": "assistant", "content": content or (None if tool_calls else "")}
    if reasoning:
        message["reasoning_content"] = reasoning
    finish: FinishReason = "stop"
    if tool_calls:
        message["tool_calls"] = tool_call_objects(tool_calls)
        finish = "tool_calls"
    return {
        "id": ids.id,
        "object": "chat.completion",
        "created": ids.created,
        "model": ids.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage_object(usage),
    }


def chunk_object(
    ids: CompletionIds,
    *,
    delta: dict[str, Any] | None = None,
    finish_reason: FinishReason | None = None,
    usage: Usage | None = None,
) -> dict[str, Any]:
    """A ``chat.completion.chunk``; with ``usage`` it is the usage chunk (no choices)."""
    chunk: dict[str, Any] = {
        "id": ids.id,
        "object": "chat.completion.chunk",
        "created": ids.created,
        "model": ids.model,
    }
    if usage is not None:
        chunk["choices"] = []
        chunk["usage"] = usage_object(usage)
    else:
        chunk["choices"] = [
            {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}
        ]
    return chunk
