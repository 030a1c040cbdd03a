"""OpenAI-compatible edge: ``/v1/models`` and ``/v1/chat/completions`` (docs/openai.md).

Model ids are bot slugs; callers authenticate with botport API keys. Context is kept in Coze without
replaying the history the client resends (:mod:`botport.api.openai_context`); events are rendered by
:mod:`botport.api.openai_render`; errors take OpenAI's shape (:mod:`botport.api.openai_errors`).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from botport.api.deps import ApiKeyIdentityDep, BotsDep, ServicesDep
from botport.api.openai_context import (
    MAX_EARLIER_TURNS,
    NewQuestion,
    conversation_for_question,
    forget_conversation,
    paused_chat,
    read_messages,
)
from botport.api.openai_errors import OpenAIRoute, error_body, error_response, with_param
from botport.api.openai_render import completion_chunks, run_completion
from botport.api.openai_schemas import CONVERSATION_HEADER, ChatCompletionRequest, model_object
from botport.api.sse import sse_response
from botport.bots import BotRegistry
from botport.chat.service import TurnRequest
from botport.chat.turn import Turn
from botport.errors import BadRequestError, BotportError, NotFoundError
from botport.identity import Identity
from botport.settings import BotConfig

router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)

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


def _bot(bots: BotRegistry, model: str) -> BotConfig:
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
    return model_object(_bot(bots, model_id).slug, _models_created(request))


@router.post(
    "/chat/completions",
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE chunks when stream is true"}},
)
async def chat_completions(
    body: ChatCompletionRequest,
    identity: ApiKeyIdentityDep,
    services: ServicesDep,
    conversation_header: ConversationHeader = None,
) -> Response:
    bot = _bot(services.bots, body.model)
    if body.n not in (None, 1):
        raise with_param(BadRequestError("only n=1 is supported", code="unsupported_n"), "n")
    explicit_id = conversation_header.strip() if conversation_header else None
    try:
        turn = await _start(services, identity, bot, body, explicit_id)
    except BotportError as exc:
        headers = {CONVERSATION_HEADER: explicit_id} if explicit_id else None
        return error_response(exc, headers=headers)
    headers = {CONVERSATION_HEADER: turn.conversation.id}
    created = int(time.time())
    if body.stream:
        frames = completion_chunks(turn, model=bot.slug, created=created, include_usage=body.include_usage)
        response = sse_response(frames)
        response.headers.update(headers)
        return response
    outcome = await run_completion(services.chat, turn, model=bot.slug, created=created)
    if outcome.failure is not None:
        failure = outcome.failure
        message = f"{failure.message} (logid {failure.logid})" if failure.logid else failure.message
        content = error_body(failure.http_status, failure.code, message)
        return JSONResponse(content, status_code=failure.http_status, headers=headers)
    return JSONResponse(outcome.completion, headers=headers)


async def _start(
    services: ServicesDep,
    identity: Identity,
    bot: BotConfig,
    body: ChatCompletionRequest,
    explicit_id: str | None,
) -> Turn:
    wanted = read_messages(body.messages)
    if isinstance(wanted, NewQuestion):
        conversation, created = await conversation_for_question(
            services.db, identity, bot, wanted, explicit_id
        )
        request = TurnRequest(
            identity=identity,
            conversation_id=conversation.id,
            content=wanted.content,
            earlier=wanted.earlier[-MAX_EARLIER_TURNS:],
        )
        try:
            return await services.chat.start_turn(request)
        except BotportError:
            if created:  # refused before anything was asked: leave no half-made conversation behind
                await forget_conversation(services.db, identity, conversation.id)
            raise
    conversation, paused = await paused_chat(services.db, identity, bot, wanted, explicit_id)
    assert paused.upstream_chat_id is not None
    return await services.chat.continue_with_tool_outputs(
        identity, conversation.id, paused.upstream_chat_id, list(wanted.outputs)
    )
