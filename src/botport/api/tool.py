"""Tool edge for agent platforms: ``POST /api/tool/ask`` answers a question in one synchronous call,
and ``GET /api/tool/openapi.json`` serves the document to paste into the platform (see docs/tool.md).

An agent platform's tool call is one request with a deadline of its own (GPTs: 45 s), and it cannot
poll. So the answer must come within ``settings.tool_timeout``; past it the turn is stopped, its partial
answer stays stored, and the caller gets a 504 whose message an agent can relay.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from botport.api.deps import ApiKeyIdentityDep, ServicesDep
from botport.api.errors import error_response
from botport.api.forwarded import public_origin
from botport.api.responses import ErrorBody, errors
from botport.api.schemas import NON_BLANK, STORABLE
from botport.api.turn_edge import SHOULD_RETRY, IdempotencyKeyHeader, unless_disconnected
from botport.chat.handles import TurnHandle, TurnRequest, conversation_target, fingerprint
from botport.chat.text import sentence
from botport.errors import BotportError, NotFoundError
from botport.identity import Identity
from botport.schema import ASK_PATH, Target, tool_document
from botport.schema.tool_doc import EXAMPLE_QUESTION
from botport.store import repository as repo
from botport.store.records import MessageRecord
from botport.store.turns import NewConversation

router = APIRouter(
    tags=["tool"], responses=errors(ErrorBody, 400, 401, 404, 408, 409, 413, 422, 429, 502, 503, 504)
)

TOOL_TIMEOUT_CODE = "tool_timeout"
OPENAPI_PATH = "/api/tool/openapi.json"


class ToolAsk(BaseModel):
    """Unknown fields are ignored: agents' models sometimes add some."""

    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"question": EXAMPLE_QUESTION}]}
    )

    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="The user's question.", json_schema_extra={"pattern": NON_BLANK}
    )
    conversation_id: str | None = Field(
        default=None,
        description="botport's conversation id from a previous answer; absent: a new one.",
        json_schema_extra={"pattern": STORABLE},  # a NUL is refused before the database (400)
    )
    bot: str | None = Field(default=None, description="A bot slug, for a new conversation.")

    @field_validator("conversation_id", "bot")
    @classmethod
    def _blank_is_absent(cls, value: str | None) -> str | None:
        # Models often fill optional fields with "" rather than leaving them out.
        if value is None:
            return None
        return value.strip() or None


class ToolAnswer(BaseModel):
    answer: str
    conversation_id: str
    follow_ups: list[str]


async def _conversation_for(
    services: ServicesDep, identity: Identity, body: ToolAsk
) -> str | NewConversation:
    """The id of the conversation to ask in, or the one the call's turn creates."""
    if body.conversation_id is None:
        return NewConversation(services.bots.get(body.bot).slug)
    async with services.db.read() as conn:
        record = await repo.get_conversation(conn, owner=identity.owner, conversation_id=body.conversation_id)
    if record is None:
        raise NotFoundError(
            f"there is no conversation {body.conversation_id!r} for this API key; "
            "leave conversation_id out to start a new conversation",
            code="conversation_not_found",
        )
    # A bot this server does not have is a 404 (unknown_bot); another bot than the conversation's is a
    # conflict with the conversation's state (409), not a malformed request (the document allows both).
    if body.bot is not None and services.bots.get(body.bot).slug != record.bot:
        raise BotportError(
            f"conversation {record.id!r} talks to bot {record.bot!r}, not {body.bot!r}; "
            "leave bot out, or leave conversation_id out to start a new conversation",
            status=409,
            code="bot_mismatch",
        )
    return record.id


async def _run_with_deadline(
    services: ServicesDep, request: Request, handle: TurnHandle, deadline: float
) -> tuple[MessageRecord, bool]:
    """Run the turn to its end or to the deadline (or until the caller goes away); the stored answer
    and whether the deadline struck. A stopped turn keeps its partial answer, stored as interrupted."""
    chat = services.chat
    gone = partial(chat.stop_turn, handle, "client_disconnected", "the client went away")
    limit = asyncio.timeout(deadline)
    try:
        async with limit:
            result = await unless_disconnected(request, chat.result(handle), gone)
        return result.message, False
    except TimeoutError:
        if not limit.expired():
            raise
    chat.stop_turn(handle, TOOL_TIMEOUT_CODE, f"stopped at the tool deadline of {deadline:g} s")
    result = await chat.result(handle)
    return result.message, result.message.error_code == TOOL_TIMEOUT_CODE


def _failure(request: Request, message: MessageRecord, *, timed_out: bool, deadline: float) -> JSONResponse:
    """The answer did not complete: a message an agent can relay, and what a person needs to report it."""
    body: dict[str, Any]
    if timed_out:
        status = 504
        body = {
            "code": TOOL_TIMEOUT_CODE,
            "message": (
                f"The bot did not finish its answer within {deadline:g} seconds, the time limit of this "
                "tool. Tell the user, and try again later or with a simpler question."
            ),
        }
    elif message.status == "requires_action":
        status = 502
        names = ", ".join(sorted({str(c.get("name")) for c in message.tool_calls or []})) or "a tool"
        body = {
            "code": "tool_call_unsupported",
            "message": (
                f"The bot asked its caller to run {names}, which this tool endpoint cannot do. "
                "Use a bot that does not need client-side tools."
            ),
        }
    else:
        upstream_timeout = message.error_code == "upstream_timeout"
        status = 504 if upstream_timeout else 502
        reason = sentence(message.error_message or "no reason given")
        body = {
            "code": message.error_code or "bot_failed",
            "message": f"The bot could not answer: {reason} Tell the user, and try again later.",
        }
    body["conversation_id"] = message.conversation_id
    if message.logid:
        body["logid"] = message.logid
    # The bot was asked: a blind retry would ask again (another Coze chat) and most likely fail again.
    return error_response(request, status, body, headers={SHOULD_RETRY: "false"})


@router.post(
    ASK_PATH,
    response_model=ToolAnswer,
    operation_id="askBot",
    summary="Ask the bot; one synchronous call returns the whole answer",
    responses=errors(ErrorBody, 401, 404, 502, 504),
)
async def ask(
    body: ToolAsk,
    request: Request,
    identity: ApiKeyIdentityDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ToolAnswer | JSONResponse:
    chat = services.chat
    digest = fingerprint("api.tool.ask", body.model_dump(mode="json"))
    handle = await chat.find_repeat(identity, idempotency_key, digest)
    if handle is None:
        handle = await _start(services, identity, body, idempotency_key, digest)
    deadline = services.settings.tool_timeout
    message, timed_out = await _run_with_deadline(services, request, handle, deadline)
    if message.status != "completed":
        return _failure(request, message, timed_out=timed_out, deadline=deadline)
    return ToolAnswer(
        answer=message.content, conversation_id=handle.conversation.id, follow_ups=list(message.follow_ups)
    )


async def _start(
    services: ServicesDep, identity: Identity, body: ToolAsk, key: str | None, digest: str
) -> TurnHandle:
    found = await _conversation_for(services, identity, body)
    conversation_id, new = conversation_target(found)
    request = TurnRequest(
        identity=identity,
        conversation_id=conversation_id,
        content=body.question,
        idempotency_key=key,
        fingerprint=digest,
        new_conversation=new,
    )
    return await services.chat.start_turn(request)  # a refused turn leaves no conversation it made


@router.get(OPENAPI_PATH, summary="The OpenAPI document of the tool")
async def tool_openapi(
    request: Request,
    services: ServicesDep,
    target: Annotated[Target, Query(description="qingyan (3.0), gpts (3.1) or coze (3.0)")] = Target.qingyan,
) -> JSONResponse:
    public_url = public_origin(request.scope, services.settings.public_url)
    return JSONResponse(tool_document(public_url, target, bots=list(services.bots)))
