"""Bodies of the reader's library: search results, the pinned list, and a conversation's export (which
is also what an import takes back)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, Field

from botport.api.schemas import STORABLE, ConversationPublic, StoredText, StoredTitle, _Strict

EXPORT_FORMAT: Literal["botport.conversation"] = "botport.conversation"
EXPORT_VERSION: Literal[1] = 1
MAX_IMPORTED_MESSAGES = 1000
MAX_IMPORTED_CHARS = 100_000  # one message's text, or its reasoning
MAX_INT = 2**31 - 1  # the token columns are 32-bit integers


class SnippetPart(BaseModel):
    text: str
    match: bool = Field(description="A matched word (the page marks it).")


class SearchResult(ConversationPublic):
    message_id: str | None = Field(description="The best matching message; null: only the title matched.")
    snippet: list[SnippetPart] = Field(
        description="Plain text around the match in that message, cut into parts; join their texts for "
        "the snippet. Empty when only the title matched."
    )


class SearchResults(BaseModel):
    items: list[SearchResult]


class PinnedList(BaseModel):
    items: list[ConversationPublic]


def _stored_time(value: datetime) -> datetime:
    """UTC, and never in the future (a file's time ahead of this clock is taken as now)."""
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset: before any time a database keeps
        value = datetime.min.replace(tzinfo=UTC)
    return min(value, datetime.now(UTC))


# Times are ISO 8601 strings in JSON: read them leniently (strict mode would take only datetime objects).
FileTime = Annotated[AwareDatetime, Field(strict=False), AfterValidator(_stored_time)]
FileText = Annotated[
    StoredText, Field(max_length=MAX_IMPORTED_CHARS, json_schema_extra={"pattern": STORABLE})
]
Count = Annotated[
    int,
    Field(ge=0, le=MAX_INT),
    # JSON Schema's integer includes 5.0; strict mode alone would refuse it.
    BeforeValidator(lambda value: int(value) if isinstance(value, float) and value.is_integer() else value),
]


class ExportedUsage(_Strict):
    input_tokens: Count
    output_tokens: Count
    total_tokens: Count


class ExportedError(_Strict):
    code: Annotated[StoredText, Field(max_length=64, json_schema_extra={"pattern": STORABLE})]
    message: Annotated[StoredText, Field(max_length=2000, json_schema_extra={"pattern": STORABLE})]


class ExportedAttachment(_Strict):
    """A question's image or file, described: an export holds no file's bytes."""

    name: Annotated[StoredText, Field(min_length=1, max_length=255, json_schema_extra={"pattern": STORABLE})]
    content_type: Annotated[StoredText, Field(max_length=128, json_schema_extra={"pattern": STORABLE})]
    size: Count
    width: Count | None = None
    height: Count | None = None


class ExportedMessage(_Strict):
    role: Literal["user", "assistant"]
    content: FileText
    reasoning: FileText = ""
    status: Literal["completed", "failed", "interrupted"] = Field(
        default="completed", description="An answer stopped or failed part way keeps that status."
    )
    created_at: FileTime | None = Field(default=None, description="Default: the time of the import.")
    follow_ups: list[
        Annotated[StoredText, Field(max_length=1000, json_schema_extra={"pattern": STORABLE})]
    ] = Field(default_factory=list, max_length=20)
    usage: ExportedUsage | None = None
    error: ExportedError | None = None
    attachments: list[ExportedAttachment] = Field(
        default_factory=list,
        max_length=50,
        description="A question's attachments, described. An import cannot bring their bytes back: it "
        "names them in the question's text.",
    )


class ExportedConversation(_Strict):
    title: StoredTitle = Field(default="", max_length=200, json_schema_extra={"pattern": STORABLE})
    bot: str = Field(min_length=1, max_length=64, description="A bot slug this server offers (else 404).")
    created_at: FileTime | None = None


class ConversationExport(_Strict):
    """A conversation as ``GET .../export?format=json`` writes it and ``POST /api/import`` reads it."""

    format: Literal["botport.conversation"]
    version: Literal[1]
    exported_at: FileTime | None = None
    conversation: ExportedConversation
    messages: list[ExportedMessage] = Field(max_length=MAX_IMPORTED_MESSAGES)
