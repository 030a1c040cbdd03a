"""The Responses API's objects, built to OpenAI's published shapes: the response, its output items
(reasoning, message, function calls) and its usage.

One answer message is one response. Its output items have ids made from the message id, so a
response read back (``GET``) names its items as its stream did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from botport.chat.events import ToolCallRequest, Usage
from botport.chat.replay import stored_tool_calls
from botport.store.records import MessageRecord
from botport.store.responses import ResponseRow, response_id_of

ResponseStatus = Literal["queued", "in_progress", "completed", "failed", "cancelled", "incomplete"]
ItemStatus = Literal["in_progress", "completed", "incomplete"]

# A turn stopped by its caller (cancel, Stop, a client that went away) is cancelled; others failed.
CANCEL_CODES = frozenset({"cancelled", "client_disconnected"})


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    """What every object of one response repeats: from the request, or from its stored row."""

    id: str
    message_id: str
    model: str
    created_at: int
    previous_response_id: str | None
    background: bool
    store: bool
    params: dict[str, Any]

    @classmethod
    def of_row(cls, row: ResponseRow) -> ResponseMeta:
        return cls(
            id=row.id,
            message_id=row.message_id,
            model=row.model,
            created_at=_epoch(row.created_at),
            previous_response_id=row.previous_response_id,
            background=row.background,
            store=row.stored,
            params=row.params,
        )

    @classmethod
    def of_request(
        cls,
        message: MessageRecord,
        *,
        model: str,
        previous_response_id: str | None,
        background: bool,
        store: bool,
        params: dict[str, Any],
    ) -> ResponseMeta:
        return cls(
            id=response_id_of(message.id),
            message_id=message.id,
            model=model,
            created_at=_epoch(message.created_at),
            previous_response_id=previous_response_id,
            background=background,
            store=store,
            params=params,
        )


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# --- items ------------------------------------------------------------------------------------


def item_id(kind: Literal["msg", "rs"], message_id: str, output_index: int, first: bool) -> str:
    """The first item of a kind is ``msg_<message id>``; more (a reasoning between texts) get the index."""
    return f"{kind}_{message_id}" if first else f"{kind}_{message_id}_{output_index}"


def function_call_id(message_id: str, index: int) -> str:
    return f"fc_{message_id}_{index}"


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def reasoning_part(text: str) -> dict[str, Any]:
    return {"type": "reasoning_text", "text": text}


def message_item(item_id_: str, text: str | None, status: ItemStatus) -> dict[str, Any]:
    content = [] if text is None else [text_part(text)]
    return {"id": item_id_, "type": "message", "role": "assistant", "status": status, "content": content}


def reasoning_item(item_id_: str, text: str | None, status: ItemStatus) -> dict[str, Any]:
    content = [] if text is None else [reasoning_part(text)]
    return {"id": item_id_, "type": "reasoning", "summary": [], "content": content, "status": status}


def function_call_item(
    item_id_: str, call: ToolCallRequest, arguments: str, status: ItemStatus
) -> dict[str, Any]:
    return {
        "id": item_id_,
        "type": "function_call",
        "call_id": call.id,
        "name": call.name,
        "arguments": arguments,
        "status": status,
    }


def stored_output(message: MessageRecord) -> list[dict[str, Any]]:
    """The output items of a stored answer, as its stream named them."""
    finished: ItemStatus = "completed" if message.status in ("completed", "requires_action") else "incomplete"
    if message.status == "streaming":
        finished = "in_progress"
    items: list[dict[str, Any]] = []
    if message.reasoning:
        items.append(reasoning_item(item_id("rs", message.id, 0, True), message.reasoning, finished))
    calls = stored_tool_calls(message) if message.status == "requires_action" else ()
    writing = message.status == "streaming" and not message.content  # nothing written yet: no item
    if message.content or not (calls or writing):
        items.append(message_item(item_id("msg", message.id, len(items), True), message.content, finished))
    for index, call in enumerate(calls):
        items.append(
            function_call_item(function_call_id(message.id, index), call, call.arguments, "completed")
        )
    return items


# --- the response -----------------------------------------------------------------------------


def usage_object(usage: Usage) -> dict[str, Any]:
    total = usage.total_tokens or usage.input_tokens + usage.output_tokens
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": total,
    }


def stored_usage(message: MessageRecord) -> Usage | None:
    if message.status not in ("completed", "requires_action"):
        return None
    return Usage(message.input_tokens or 0, message.output_tokens or 0, message.total_tokens or 0)


def status_of(message: MessageRecord) -> tuple[ResponseStatus, dict[str, Any] | None]:
    """The response's status and error, from its answer's stored status."""
    return ended_status(message.status, message.error_code, message.error_message)


def ended_status(
    message_status: str, code: str | None, reason: str | None
) -> tuple[ResponseStatus, dict[str, Any] | None]:
    if message_status == "streaming":
        return "in_progress", None
    if message_status in ("completed", "requires_action"):
        return "completed", None
    if message_status == "interrupted" and code in CANCEL_CODES:
        return "cancelled", None
    return "failed", {"code": code or "server_error", "message": reason or ""}


def response_object(
    meta: ResponseMeta,
    *,
    status: ResponseStatus,
    output: list[dict[str, Any]],
    usage: Usage | None = None,
    error: dict[str, Any] | None = None,
    completed_at: int | None = None,
) -> dict[str, Any]:
    params = meta.params
    return {
        "id": meta.id,
        "object": "response",
        "created_at": meta.created_at,
        "status": status,
        "background": meta.background,
        "completed_at": completed_at,
        "error": error,
        "incomplete_details": None,
        "instructions": params.get("instructions"),
        "max_output_tokens": params.get("max_output_tokens"),
        "max_tool_calls": None,
        "metadata": params.get("metadata") or {},
        "model": meta.model,
        "output": output,
        "parallel_tool_calls": params.get("parallel_tool_calls", True),
        "previous_response_id": meta.previous_response_id,
        "reasoning": params.get("reasoning") or {"effort": None, "summary": None},
        "service_tier": params.get("service_tier", "default"),
        "store": meta.store,
        "temperature": params.get("temperature", 1.0),
        "text": params.get("text") or {"format": {"type": "text"}},
        "tool_choice": params.get("tool_choice", "auto"),
        "tools": params.get("tools") or [],
        "top_p": params.get("top_p", 1.0),
        "truncation": params.get("truncation", "disabled"),
        "usage": usage_object(usage) if usage is not None else None,
        "user": params.get("user"),
    }


def stored_response(meta: ResponseMeta, message: MessageRecord) -> dict[str, Any]:
    """The response as its stored answer says it is now."""
    status, error = status_of(message)
    done = None if message.status == "streaming" else _epoch(message.updated_at)
    return response_object(
        meta,
        status=status,
        output=stored_output(message),
        usage=stored_usage(message),
        error=error,
        completed_at=done,
    )
