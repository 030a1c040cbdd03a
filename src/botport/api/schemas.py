"""Request and response bodies of botport's own API (``XCreate`` / ``XPublic``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from botport.render import render_markdown
from botport.settings import BotConfig
from botport.store.attachments import ID_PATTERN, AttachmentRecord
from botport.store.records import ConversationRecord, MessageRecord, Rating

# Text botport stores holds no NUL (PostgreSQL refuses it: 400 invalid_text, a title 422).
STORABLE = r"^[^\x00]*$"
# ...and a message has a character that str.strip() keeps (else 400 empty_message). Spelled out,
# because JSON Schema's (ECMA-262) \s, Python's and Rust's differ (\x1c-\x1f, \x85, \ufeff).
_KEPT = r"[^\x00\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
NON_BLANK = rf"^[^\x00]*{_KEPT}[^\x00]*$"
MAX_FEEDBACK_COMMENT = 1000


class _Strict(BaseModel):
    # strict: JSON types as the document says them; lax mode took "stream": 0 or "false" as a boolean.
    model_config = ConfigDict(extra="forbid", strict=True)


class BotPublic(BaseModel):
    slug: str
    name: str
    description: str
    greeting: str

    @classmethod
    def of(cls, bot: BotConfig) -> BotPublic:
        return cls(slug=bot.slug, name=bot.name, description=bot.description, greeting=bot.greeting)


class Limits(BaseModel):
    max_message_chars: int


class ConfigPublic(BaseModel):
    version: str
    demo_mode: bool
    bots: list[BotPublic]
    limits: Limits
    access: Literal["public", "passcode", "keys"] = Field(
        default="public", description="Who may use the web chat (BOTPORT_WEB_ACCESS)."
    )
    admitted: bool = Field(default=True, description="Whether this browser may use it now.")
    max_attachment_bytes: int = Field(default=0, description="The largest file POST /api/files takes.")
    max_attachments: int = Field(default=0, description="Attachments one message may carry (0: none).")
    attachment_types: list[str] = Field(
        default_factory=list, description="The MIME types botport takes (checked by the file's bytes)."
    )


def _storable_title(value: str) -> str:
    """A title is stored: no NUL (PostgreSQL refuses it) and no lone surrogate (not Unicode)."""
    if "\x00" in value or _has_surrogate(value):
        raise ValueError("a title is Unicode text without NUL characters")
    return value


def _has_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


StoredTitle = Annotated[str, AfterValidator(_storable_title)]


def _storable_text(value: str) -> str:
    if "\x00" in value or _has_surrogate(value):
        raise ValueError("the text must be Unicode without NUL characters")
    return value


StoredText = Annotated[str, AfterValidator(_storable_text)]


class ConversationCreate(_Strict):
    bot: str | None = Field(default=None, description="A bot slug; default: the first configured bot.")
    title: StoredTitle = Field(default="", max_length=200, json_schema_extra={"pattern": STORABLE})


class ConversationUpdate(_Strict):
    # At least one field (else 422); a field that is null or absent is left as it is.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"minProperties": 1})

    title: StoredTitle | None = Field(
        default=None, min_length=1, max_length=200, json_schema_extra={"pattern": STORABLE}
    )
    pinned: bool | None = Field(default=None, description="Pin (true) or unpin (false) the conversation.")

    @model_validator(mode="after")
    def _something(self) -> ConversationUpdate:
        if not self.model_fields_set:
            raise ValueError("give a title, pinned, or both")
        return self


class ConversationPublic(BaseModel):
    id: str
    bot: str
    title: str
    created_at: datetime
    updated_at: datetime
    pinned: bool = Field(default=False, description="Pinned by its reader (GET /api/pinned lists them).")

    @classmethod
    def of(cls, record: ConversationRecord) -> ConversationPublic:
        return cls(
            id=record.id,
            bot=record.bot,
            title=record.title,
            created_at=record.created_at,
            updated_at=record.updated_at,
            pinned=record.pinned_at is not None,
        )


class RunningTurn(BaseModel):
    message_id: str = Field(description="The answer being written: follow it at /api/messages/{id}/events.")
    user_message_id: str | None = Field(default=None, description="The question it answers, when known.")


class ConversationDetail(ConversationPublic):
    running_turn: RunningTurn | None = Field(
        default=None, description="The turn running in this conversation (any tab, any instance), or null."
    )

    @classmethod
    def of(cls, record: ConversationRecord, running: RunningTurn | None = None) -> ConversationDetail:
        base = ConversationPublic.of(record)
        return cls(**base.model_dump(), running_turn=running)


class ConversationPage(BaseModel):
    items: list[ConversationPublic]
    next_cursor: str | None


class UsagePublic(BaseModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class ErrorPublic(BaseModel):
    code: str
    message: str
    logid: str | None = None


class ToolCallPublic(BaseModel):
    id: str
    name: str
    arguments: str


MAX_ATTACHMENT_IDS = 50  # the most BOTPORT_MAX_ATTACHMENTS allows; the server's own limit is checked after


class MessageCreate(_Strict):
    # Text, or attachments, or both: a picture alone is a message.
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "anyOf": [
                {"properties": {"content": {"pattern": NON_BLANK}}},
                {"properties": {"attachments": {"minItems": 1}}, "required": ["attachments"]},
            ]
        },
    )

    content: str = Field(
        description="The user's message; it may be empty when the message carries attachments.",
        json_schema_extra={"pattern": STORABLE},
    )
    attachments: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENT_IDS,
        json_schema_extra={"uniqueItems": True},
        description="Ids of files uploaded with POST /api/files (the caller's, not sent before), at most "
        "max_attachments (GET /api/config). Editing a question: omitted, the question's own "
        "attachments stay with the new version; given, exactly these (the question's own ids or new "
        "uploads).",
    )
    stream: bool = Field(default=True, description="Answer as Server-Sent Events (true) or one JSON (false).")
    cancel_on_disconnect: bool = Field(
        default=False,
        description="Stop the turn if this request's client goes away (default: the turn runs to its end "
        "and can be followed again at /api/messages/{id}/events).",
    )


class Attachment(BaseModel):
    """An image or file attached to a question. ``url`` serves its bytes, to its owner only."""

    id: str
    name: str
    content_type: str
    size: int = Field(description="Bytes.")
    width: int | None = Field(default=None, description="Pixels, for an image.")
    height: int | None = Field(default=None, description="Pixels, for an image.")
    url: str

    @classmethod
    def of(cls, record: AttachmentRecord) -> Attachment:
        return cls(
            id=record.id,
            name=record.name,
            content_type=record.content_type,
            size=record.size,
            width=record.width,
            height=record.height,
            url=f"/api/files/{record.id}",
        )


class RegenerateRequest(_Strict):
    stream: bool = Field(default=True, description="Answer as Server-Sent Events (true) or one JSON (false).")
    cancel_on_disconnect: bool = Field(
        default=False, description="Stop the turn if this request's client goes away."
    )


class BranchSwitch(_Strict):
    message_id: str = Field(
        min_length=1,
        max_length=64,
        description="A version of a message (from its `versions`): the conversation is read along the "
        "newest branch through it from now on, and the next message continues that branch.",
    )


class FeedbackPublic(BaseModel):
    rating: Rating
    comment: str | None = None

    @classmethod
    def of(cls, record: MessageRecord) -> FeedbackPublic | None:
        return cls(rating=record.feedback, comment=record.feedback_comment) if record.feedback else None


class MessagePublic(BaseModel):
    id: str
    conversation_id: str
    role: str
    content: str
    html: str
    reasoning: str
    status: str
    follow_ups: list[str]
    usage: UsagePublic | None
    error: ErrorPublic | None
    tool_calls: list[ToolCallPublic] | None = None
    feedback: FeedbackPublic | None = Field(default=None, description="The caller's rating of an answer.")
    created_at: datetime
    parent_id: str | None = Field(
        default=None, description="The message this one follows (null: the conversation's first)."
    )
    versions: list[str] | None = Field(
        default=None,
        description="In a conversation's message list: the ids of this message's versions (edited "
        "questions, regenerated answers), oldest first, itself included; switch with PUT .../branch.",
    )
    attachments: list[Attachment] = Field(
        default_factory=list, description="A question's images and files, in the order they were sent."
    )

    @classmethod
    def of(
        cls,
        record: MessageRecord,
        versions: Sequence[str] | None = None,
        attachments: Sequence[AttachmentRecord] = (),
    ) -> MessagePublic:
        usage = None
        if record.total_tokens is not None:
            usage = UsagePublic(
                input_tokens=record.input_tokens or 0,
                output_tokens=record.output_tokens or 0,
                total_tokens=record.total_tokens,
            )
        error = None
        if record.error_code:
            error = ErrorPublic(
                code=record.error_code, message=record.error_message or "", logid=record.logid
            )
        tool_calls: list[dict[str, Any]] | None = record.tool_calls
        return cls(
            id=record.id,
            conversation_id=record.conversation_id,
            role=record.role,
            content=record.content,
            html=render_markdown(record.content) if record.role == "assistant" and record.content else "",
            reasoning=record.reasoning or "",
            status=record.status,
            follow_ups=list(record.follow_ups or []),
            usage=usage,
            error=error,
            tool_calls=[ToolCallPublic(**c) for c in tool_calls] if tool_calls else None,
            feedback=FeedbackPublic.of(record),
            created_at=record.created_at,
            parent_id=record.parent_id,
            versions=list(versions) if versions is not None else None,
            attachments=[Attachment.of(a) for a in attachments],
        )


class MessageList(BaseModel):
    items: list[MessagePublic]


class FeedbackUpdate(_Strict):
    rating: Rating | None = Field(description="like, unlike, or null to remove the rating.")
    comment: StoredText | None = Field(
        default=None,
        max_length=MAX_FEEDBACK_COMMENT,
        description="Why (kept with a like or unlike; ignored with null).",
        json_schema_extra={"pattern": STORABLE},
    )


class MessageFeedback(BaseModel):
    message_id: str
    feedback: FeedbackPublic | None = Field(description="The answer's rating now; null: none.")


class CancelResult(BaseModel):
    cancelled: bool
