"""The error responses each edge declares in the OpenAPI document: every status a route can answer,
with the body shape that edge uses (botport's ``{"error": {...}}``, OpenAI's, the tutorial's)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

# What each status means, for every edge.
DESCRIPTIONS = {
    400: "The request is wrong (unreadable body, invalid cursor or Last-Event-ID, empty message...)",
    401: "Missing, unknown or revoked API key",
    403: "Refused: a cross-site cookie request, or the web chat is closed to this caller",
    404: "No such conversation, message, bot or model (or someone else's)",
    408: "The request body stopped arriving (BOTPORT_BODY_TIMEOUT)",
    409: "A turn is running in this conversation (see Retry-After)",
    413: "The body is larger than BOTPORT_MAX_BODY_BYTES, the message longer than max_message_chars, or "
    "an attachment larger than BOTPORT_MAX_ATTACHMENT_BYTES",
    415: "Not a type of file botport takes (see attachment_types in GET /api/config)",
    422: "Invalid parameters or body, or an Idempotency-Key already used for another request",
    429: "Too many requests or turns (see Retry-After)",
    502: "The bot failed (the partial answer is stored)",
    503: "Every connection to Coze is in use, or this client holds too many (see Retry-After)",
    504: "The answer did not come in time",
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # logid, upstream_code, conversation_id...
    code: str
    message: str


class ErrorBody(BaseModel):
    """botport's own error shape."""

    error: ErrorDetail


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorBody(BaseModel):
    """OpenAI's error shape (the /v1 routes)."""

    error: OpenAIErrorDetail


class SeedErrorBody(BaseModel):
    """The tutorial's error shape (POST /chat)."""

    error: str


def errors(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": model, "description": DESCRIPTIONS[status]} for status in statuses}
