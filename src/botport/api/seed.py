"""The tutorial's contract: ``POST /chat`` with a Coze create-chat body, answered ``{"replies": [...]}``.

The tutorial's page chose ``bot_id`` and ``user_id`` itself. Here ``bot_id`` is honoured only when it
names a configured bot (any other id gets the default bot, so the unchanged page works and the token
never serves a bot the operator did not configure), ``user_id`` is ignored (the caller's identity
counts), and context is kept: each identity has one tutorial conversation per bot.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from botport.api.deps import IdentityDep, ServicesDep
from botport.api.errors import error_response, exception_response
from botport.api.responses import SeedErrorBody, errors
from botport.api.schemas import NON_BLANK, STORABLE
from botport.api.turn_edge import SHOULD_RETRY, IdempotencyKeyHeader, unless_disconnected
from botport.bots import BotRegistry
from botport.chat.handles import TurnRequest, fingerprint
from botport.errors import BadRequestError, BotportError
from botport.settings import BotConfig
from botport.store import repository as repo

router = APIRouter(
    tags=["tutorial"],
    responses=errors(SeedErrorBody, 400, 401, 403, 408, 409, 413, 422, 429, 502, 503, 504),
)

SEED_TITLE = "Tutorial page (/chat)"


class SeedMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str = "user"
    # No NUL in any message (422), as the document says: the one asked is stored.
    content: str = Field(default="", pattern=STORABLE)
    content_type: str = "text"


class SeedChatBody(BaseModel):
    """The tutorial page's body. Unknown fields (``stream``, ``auto_save_history``...) are accepted."""

    # additional_messages is required in the document (without it the answer is 400 empty_message).
    model_config = ConfigDict(extra="allow", json_schema_extra={"required": ["additional_messages"]})
    bot_id: str | None = None
    user_id: str | None = Field(default=None, description="Ignored: the caller's identity counts.")
    additional_messages: list[SeedMessage] = Field(
        default_factory=list,
        max_length=100,
        description="At least one user message with some text; the last one is asked.",
        json_schema_extra={
            "minItems": 1,
            "contains": {
                "type": "object",
                "properties": {
                    "role": {"const": "user"},
                    "content": {"type": "string", "pattern": NON_BLANK},
                },
                "required": ["content"],
            },
        },
    )


def _bot_for(bots: BotRegistry, bot_id: str | None) -> BotConfig:
    configured = bots.by_coze_id(bot_id) if bot_id else None
    return configured or bots.default


@router.post("/chat", responses={200: {"description": '{"replies": [answer]} or {"error": "..."}'}})
async def seed_chat(
    body: SeedChatBody,
    request: Request,
    identity: IdentityDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> JSONResponse:
    chat = services.chat
    try:
        bot = _bot_for(services.bots, body.bot_id)
        questions = [m.content for m in body.additional_messages if m.role == "user" and m.content.strip()]
        if not questions:
            raise BadRequestError("additional_messages holds no user message", code="empty_message")
        digest = fingerprint("chat", [bot.slug, questions[-1]])
        handle = await chat.find_repeat(identity, idempotency_key, digest)
        if handle is None:
            async with services.db.connect() as conn:
                where = {"owner": identity.owner, "bot": bot.slug, "title": SEED_TITLE}
                conversation = await repo.find_conversation_by_title(conn, **where)
                if conversation is None:
                    conversation = await repo.create_conversation(conn, **where)
            handle = await chat.start_turn(
                TurnRequest(
                    identity=identity,
                    conversation_id=conversation.id,
                    content=questions[-1],
                    idempotency_key=idempotency_key,
                    fingerprint=digest,
                )
            )
        # The tutorial's page does not come back for an answer it gave up on: stop the Coze chat.
        stop = partial(chat.stop_turn, handle, "client_disconnected", "the client went away")
        message = (await unless_disconnected(request, chat.result(handle), stop)).message
    except BotportError as exc:
        return exception_response(request, exc)
    if message.status != "completed":
        detail = {"message": message.error_message or "the bot did not answer", "logid": message.logid}
        status = 504 if message.error_code == "upstream_timeout" else 502
        return error_response(request, status, detail, headers={SHOULD_RETRY: "false"})
    payload: dict[str, Any] = {"replies": [message.content]}
    if message.follow_ups:
        payload["follow_ups"] = list(message.follow_ups)
    return JSONResponse(payload)
