"""The Responses API's request as botport reads it: the body, and its ``input`` read as a new question
(with earlier turns) or as function-call outputs for a paused chat — the same two things a Chat
Completions request asks (:mod:`botport.api.openai_context`).

Read leniently, as OpenAI clients send many parameters a Coze bot has no use for: they are accepted,
echoed back in the response object, and otherwise ignored. What cannot be honoured is refused (400).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from botport.api.openai_context import MAX_EARLIER_TURNS, MAX_MESSAGES, NewQuestion, ToolResults
from botport.api.openai_errors import OpenAIError, with_param
from botport.api.openai_files import InputFile, response_part
from botport.chat.handles import ToolResult
from botport.chat.text import require_unicode
from botport.errors import BadRequestError

# Echoed back in the response object as the request gave them (botport does not act on them).
ECHOED = (
    *("instructions", "metadata", "tools", "tool_choice", "temperature", "top_p", "max_output_tokens"),
    *("parallel_tool_calls", "text", "truncation", "user", "reasoning", "service_tier"),
)

_TEXT_PARTS = ("input_text", "output_text", "text")
_IGNORED_ROLES = ("system", "developer")
_HISTORY_TYPES = ("function_call", "reasoning")  # earlier turns' tool calls and reasoning: not text


class ResponseCreateRequest(BaseModel):
    """``POST /v1/responses``. Unknown parameters are accepted; the known ones must have their types."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1, description="A bot slug (GET /v1/models).")
    input: str | list[dict[str, Any]] = Field(description="A question, or input items.")
    instructions: str | None = None
    previous_response_id: str | None = Field(
        default=None, description="Continue from this response: its conversation keeps the context."
    )
    stream: bool | None = False
    store: bool | None = True
    background: bool | None = False
    metadata: dict[str, str] | None = None
    tools: list[dict[str, Any]] | None = None
    conversation: Any = None

    def echoed(self) -> dict[str, Any]:
        """The parameters a response object repeats."""
        given = self.model_dump(mode="json", exclude_none=True)
        return {name: given[name] for name in ECHOED if name in given}


def _bad(message: str, param: str, code: str = "invalid_input") -> OpenAIError:
    return with_param(BadRequestError(message, code=code), param)


def _text(value: Any, param: str, files: list[InputFile] | None = None) -> str:
    """An item's content: a string, or text parts joined by newlines. With ``files`` (a user
    message's), its images and files go there; without, only text parts are taken."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, list):
        texts = []
        for index, part in enumerate(value):
            kind = part.get("type") if isinstance(part, dict) else None
            if files is not None and isinstance(part, dict) and kind not in _TEXT_PARTS:
                found = response_part(part, f"{param}[{index}]")
                if found is not None:
                    files.append(found)
                continue
            if kind not in _TEXT_PARTS or not isinstance(part.get("text", ""), str):
                raise _bad(
                    f"{param}[{index}] is a {kind!r} part; this endpoint takes text only",
                    f"{param}[{index}]",
                    code="unsupported_content",
                )
            texts.append(part.get("text") or "")
        text = "\n".join(texts)
    else:
        raise _bad(f"{param} must be a string or a list of text parts", param)
    try:
        require_unicode(text)
    except BadRequestError as exc:
        raise with_param(exc, param) from None
    return text


class ReadInput:
    """``input`` read: what it asks, and the items as ``GET /v1/responses/{id}/input_items`` lists them."""

    def __init__(self, asked: NewQuestion | ToolResults, items: list[dict[str, Any]]) -> None:
        self.asked = asked
        self.items = items


def read_input(value: str | list[dict[str, Any]]) -> ReadInput:
    if isinstance(value, str):
        item = _message_item("user", value)
        return ReadInput(NewQuestion(content=value, earlier=()), [item])
    if not value:
        raise _bad("input holds no item", "input", code="empty_message")
    if len(value) > MAX_MESSAGES:
        raise with_param(
            BadRequestError(
                f"input holds {len(value)} items; the limit is {MAX_MESSAGES}",
                code="too_many_messages",
                status=413,
            ),
            "input",
        )
    turns: list[tuple[str, str]] = []  # (role, text) of user and assistant messages
    last_files: tuple[InputFile, ...] = ()  # the images and files of the last of them
    outputs: list[ToolResult] = []  # the function-call outputs after the last message
    items: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        param = f"input[{index}]"
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", *_IGNORED_ROLES):
                raise _bad(f"{param}.role must be user, assistant, system or developer", f"{param}.role")
            files: list[InputFile] = []
            text = _text(item.get("content"), f"{param}.content", files if role == "user" else None)
            items.append(_message_item(str(role), text, files))
            if role in _IGNORED_ROLES:  # a Coze bot has its own persona and prompt
                continue
            outputs.clear()
            turns.append((str(role), text.strip() if role == "user" else text))
            last_files = tuple(files)
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise _bad(f"{param} (function_call_output) needs call_id", f"{param}.call_id")
            output = _text(item.get("output"), f"{param}.output")
            outputs.append(ToolResult(tool_call_id=call_id, output=output))
            items.append({"type": kind, "call_id": call_id, "output": output})
        elif kind in _HISTORY_TYPES:
            if kind == "function_call":
                items.append(dict(item))
        else:
            raise _bad(
                f"{param} is a {kind!r} item; this endpoint takes messages and function_call_output",
                f"{param}.type",
                code="unsupported_input",
            )
    if outputs and value[-1].get("type") == "function_call_output":
        return ReadInput(ToolResults(tuple(outputs)), items)
    if not turns or turns[-1][0] != "user":
        raise _bad("the last input item must be a user message or function_call_output", "input")
    question = turns[-1][1]
    earlier = tuple(turns[:-1][-MAX_EARLIER_TURNS:])
    return ReadInput(NewQuestion(content=question, earlier=earlier, files=last_files), items)


def numbered(items: list[dict[str, Any]], message_id: str) -> list[dict[str, Any]]:
    """The items with ids (``in_<answer id>_<index>``; a function call keeps its own)."""
    return [{"id": item.get("id") or f"in_{message_id}_{i}", **item} for i, item in enumerate(items)]


def _message_item(role: str, text: str, files: list[InputFile] | None = None) -> dict[str, Any]:
    part = "output_text" if role == "assistant" else "input_text"
    content: list[dict[str, Any]] = [{"type": part, "text": text}]
    for found in files or ():  # as input_items lists them: never the bytes of a data: URL again
        named = {"filename": found.name} if found.name else {}
        if found.kind == "image":
            image = {
                "type": "input_image",
                "detail": "auto",
                "image_url": found.url,
                "file_id": found.file_id,
            }
            content.append(image)
        else:
            content.append({"type": "input_file", "file_url": found.url, "file_id": found.file_id, **named})
    return {"type": "message", "role": role, "status": "completed", "content": content}
