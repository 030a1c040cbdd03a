"""Coze v3 objects as the client reads them: tolerant of unknown fields and unknown enum values."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _OpenEnum(StrEnum):
    """A string enum whose unknown values become ``UNKNOWN`` instead of raising."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        return cls("unknown")


class ChatStatus(_OpenEnum):
    CREATED = "created"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    CANCELED = "canceled"
    UNKNOWN = "unknown"


class MessageType(_OpenEnum):
    QUESTION = "question"
    ANSWER = "answer"
    FUNCTION_CALL = "function_call"
    TOOL_OUTPUT = "tool_output"
    TOOL_RESPONSE = "tool_response"
    FOLLOW_UP = "follow_up"
    VERBOSE = "verbose"
    UNKNOWN = "unknown"


class MessageRole(_OpenEnum):
    USER = "user"
    ASSISTANT = "assistant"
    UNKNOWN = "unknown"


class Usage(_Tolerant):
    token_count: int = 0
    output_count: int = 0
    input_count: int = 0


class LastError(_Tolerant):
    code: int = 0
    msg: str = ""


class FunctionCall(_Tolerant):
    name: str = ""
    arguments: str = ""  # a JSON string, as Coze sends it


class ToolCall(_Tolerant):
    id: str
    type: str = "function"
    function: FunctionCall = Field(default_factory=FunctionCall)


class SubmitToolOutputs(_Tolerant):
    tool_calls: list[ToolCall] = Field(default_factory=list)


class RequiredAction(_Tolerant):
    type: str = "submit_tool_outputs"
    submit_tool_outputs: SubmitToolOutputs = Field(default_factory=SubmitToolOutputs)


class Chat(_Tolerant):
    id: str
    conversation_id: str
    bot_id: str = ""
    created_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    meta_data: dict[str, str] | None = None
    last_error: LastError | None = None
    status: ChatStatus = ChatStatus.UNKNOWN
    required_action: RequiredAction | None = None
    usage: Usage | None = None
    section_id: str | None = None


class Message(_Tolerant):
    id: str = ""
    conversation_id: str = ""
    bot_id: str = ""
    chat_id: str = ""
    section_id: str | None = None
    role: MessageRole = MessageRole.ASSISTANT
    type: MessageType = MessageType.UNKNOWN
    content: str = ""
    content_type: str = "text"
    reasoning_content: str = ""
    meta_data: dict[str, str] | None = None
    created_at: int | None = None
    updated_at: int | None = None

    @field_validator("reasoning_content", "content", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("reasoning_content", "content")
    @classmethod
    def _storable(cls, value: str) -> str:
        return storable_text(value)


def storable_text(text: str) -> str:
    """Text from Coze as every database and client takes it: a NUL (PostgreSQL refuses it in text)
    or a lone UTF-16 surrogate (not Unicode) becomes U+FFFD, the replacement character."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub("\ufffd", text)
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")


class EnterMessage(BaseModel):
    """A message sent to Coze in ``additional_messages``."""

    role: str = "user"
    type: str | None = None
    content: str
    content_type: str = "text"
    meta_data: dict[str, str] | None = None

    @classmethod
    def user_text(cls, text: str) -> EnterMessage:
        return cls(role="user", type="question", content=text, content_type="text")

    @classmethod
    def assistant_text(cls, text: str) -> EnterMessage:
        return cls(role="assistant", type="answer", content=text, content_type="text")

    @classmethod
    def user_parts(cls, parts: list[dict[str, Any]]) -> EnterMessage:
        """Multimodal content: Coze wants the parts list as a JSON *string*."""
        return cls(role="user", type="question", content=json.dumps(parts), content_type="object_string")


class ToolOutput(BaseModel):
    tool_call_id: str
    output: str


def chat_body(
    bot_id: str,
    user_id: str,
    messages: Sequence[EnterMessage],
    custom_variables: Mapping[str, str] | None,
    meta_data: Mapping[str, str] | None,
) -> dict[str, Any]:
    """The body of a streaming ``POST /v3/chat``."""
    body: dict[str, Any] = {
        "bot_id": bot_id,
        "user_id": user_id,
        "additional_messages": [m.model_dump(exclude_none=True) for m in messages],
        "stream": True,
        "auto_save_history": True,  # Coze keeps the turn in the conversation: the context of the next
    }
    if custom_variables:
        body["custom_variables"] = dict(custom_variables)
    if meta_data:
        body["meta_data"] = dict(meta_data)
    return body


# --- bots and workspaces (botport.upstream.catalog) ------------------------------------------------


class _NullsAreDefaults(_Tolerant):
    """A field Coze sends as ``null`` takes its default (an unpublished bot has no ``published_at``)."""

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


class PublishStatus(StrEnum):
    """Which bots ``GET /v1/bots`` lists; Coze's own default is ``published_online``."""

    ALL = "all"  # every bot, as its latest draft
    PUBLISHED_ONLINE = "published_online"  # published bots, as published
    PUBLISHED_DRAFT = "published_draft"  # published bots, as their latest draft
    UNPUBLISHED_DRAFT = "unpublished_draft"  # bots never published


class Workspace(_NullsAreDefaults):
    """A space the token's user has joined (``GET /v1/workspaces``)."""

    id: str
    name: str = ""
    icon_url: str = ""
    role_type: str = ""  # owner, admin, member
    workspace_type: str = ""  # personal, team
    enterprise_id: str = ""


class WorkspacePage(_NullsAreDefaults):
    workspaces: list[Workspace] = Field(default_factory=list)
    total_count: int = 0


class BotSummary(_NullsAreDefaults):
    """A bot in a workspace's list (``GET /v1/bots``, Coze's v2 list)."""

    id: str
    name: str = ""
    description: str = ""
    icon_url: str = ""
    is_published: bool = False
    published_at: int | None = None
    updated_at: int | None = None
    owner_user_id: str = ""
    folder_id: str | None = None


class BotPage(_NullsAreDefaults):
    items: list[BotSummary] = Field(default_factory=list)
    total: int = 0


class BotInfo(_NullsAreDefaults):
    """A bot published to the API channel, as its online version (``GET /v1/bot/get_online_info``)."""

    bot_id: str
    name: str = ""
    description: str = ""
    icon_url: str = ""
    version: str = ""
    create_time: int | None = None
    update_time: int | None = None
