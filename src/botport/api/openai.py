"""OpenAI-compatible edge: ``/v1/models`` and ``/v1/chat/completions`` (docs/openai.md).

Model ids are bot slugs; callers authenticate with botport API keys. Context is kept in Coze without
replaying the history the client resends (:mod:`botport.api.openai_context`); events are rendered by
:mod:`botport.api.openai_render`; errors take OpenAI's shape (:mod:`botport.api.errors`, every one of
them through :class:`~botport.api.openai_errors.OpenAIRoute`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from botport.api.deps import ApiKeyIdentityDep, BotsDep, ServicesDep
from botport.api.errors import exception_response
from botport.api.openai_context import (
    NewQuestion,
    conversation_for_question,
    paused_chat,
    read_messages,
    turn_request,
)
from botport.api.openai_errors import OpenAIRoute, with_param
from botport.api.openai_files import attach_files
from botport.api.openai_render import completion, completion_chunks, failed_turn
from botport.api.openai_schemas import CONVERSATION_HEADER, ChatCompletionRequest, model_object
from botport.api.responses import OpenAIErrorBody, errors
from botport.api.turn_edge import IdempotencyKeyHeader, retry_headers, sse_response, unless_disconnected
from botport.bots import BotRegistry
from botport.chat.events import TurnCompleted
from botport.chat.handles import TurnHandle, fingerprint
from botport.errors import BadRequestError, BotportError, NotFoundError
from botport.identity import Identity
from botport.settings import BotConfig
from botport.sse import KEEPALIVE_SECONDS

router = APIRouter(
    prefix="/v1",
    tags=["openai"],
    route_class=OpenAIRoute,
    # Validation errors are 400 here, as OpenAI answers; 422 is an Idempotency-Key reused.
    responses=errors(OpenAIErrorBody, 400, 401, 404, 408, 409, 413, 422, 429, 502, 503, 504),
)

ConversationHeader = Annotated[
    str | None,
    Header(
        alias=CONVERSATION_HEADER,
        description="Continue this botport conversation instead of matching the history.",
    ),
]


def _models_created(request: Request) -> int:
    """One timestamp per app, so the model list is stable while the server runs."""
    state = request.app.state
    if not hasattr(state, "openai_models_created"):
        state.openai_models_created = int(time.time())
    created: int = state.openai_models_created
    return created


def bot_for_model(bots: BotRegistry, model: str) -> BotConfig:
    try:
        return bots.get(model)
    except NotFoundError:
        known = ", ".join(bot.slug for bot in bots)
        message = f"The model '{model}' does not exist; this server offers: {known}"
        raise with_param(NotFoundError(message, code="model_not_found"), "model") from None


@router.get("/models")
async def list_models(request: Request, identity: ApiKeyIdentityDep, bots: BotsDep) -> dict[str, Any]:
    created = _models_created(request)
    return {"object": "list", "data": [model_object(bot.slug, created) for bot in bots]}


@router.get("/models/{model_id}")
async def get_model(
    model_id: str, request: Request, identity: ApiKeyIdentityDep, bots: BotsDep
) -> dict[str, Any]:
    return model_object(bot_for_model(bots, model_id).slug, _models_created(request))


@router.post(
    "/chat/completions",
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE chunks when stream is true"}},
)
async def chat_completions(
    body: ChatCompletionRequest,
    request: Request,
    identity: ApiKeyIdentityDep,
    services: ServicesDep,
    conversation_header: ConversationHeader = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    bot = bot_for_model(services.bots, body.model)
    if body.n not in (None, 1):
        raise with_param(BadRequestError("only n=1 is supported", code="unsupported_n"), "n")
    explicit_id = conversation_header.strip() if conversation_header else None
    chat = services.chat
    # A repeat that only switches streaming on or off asks the same question.
    asked = body.model_dump(mode="json", exclude={"stream", "stream_options"})
    digest = fingerprint("v1.chat.completions", [asked, explicit_id])
    try:
        handle = await chat.find_repeat(identity, idempotency_key, digest)
        if handle is None:
            handle = await _start(services, identity, bot, body, explicit_id, idempotency_key, digest)
    except BotportError as exc:
        headers = {CONVERSATION_HEADER: explicit_id} if explicit_id else None
        return exception_response(request, exc, headers=headers)
    headers = {CONVERSATION_HEADER: handle.conversation.id}
    created = int(time.time())
    # An OpenAI client that goes away does not come back for the answer: stop the Coze chat.
    if body.stream:
        events = chat.watch(handle, keepalive=KEEPALIVE_SECONDS, cancel_on_exit=True)
        frames = completion_chunks(
            handle, events, model=bot.slug, created=created, include_usage=body.include_usage
        )
        return sse_response(frames, headers=headers)
    stop = partial(chat.stop_turn, handle, "client_disconnected", "the client went away")
    result = await unless_disconnected(request, chat.result(handle), stop)
    if not isinstance(result.end, TurnCompleted):
        failure = result.end
        headers.update(retry_headers(failure))
        return JSONResponse(failed_turn(failure), status_code=failure.http_status, headers=headers)
    return JSONResponse(completion(handle, result, model=bot.slug, created=created), headers=headers)


async def _start(
    services: ServicesDep,
    identity: Identity,
    bot: BotConfig,
    body: ChatCompletionRequest,
    explicit_id: str | None,
    idempotency_key: str | None,
    digest: str,
) -> TurnHandle:
    wanted = read_messages(body.messages)
    chat = services.chat
    if isinstance(wanted, NewQuestion):
        found = await conversation_for_question(services.db, identity, bot, wanted, explicit_id)
        request = turn_request(found, identity, wanted, key=idempotency_key, digest=digest)
        if wanted.files:
            attachments, remote = await attach_files(services, identity, wanted.files)
            request = replace(request, attachments=attachments, remote_files=remote)
        return await chat.start_turn(request)  # a refused turn leaves no conversation it made
    conversation, paused = await paused_chat(services.db, identity, bot, wanted, explicit_id)
    assert paused.upstream_chat_id is not None
    return await chat.continue_with_tool_outputs(
        identity,
        conversation.id,
        paused.upstream_chat_id,
        wanted.outputs,
        idempotency_key=idempotency_key,
        fingerprint=digest,
    )
