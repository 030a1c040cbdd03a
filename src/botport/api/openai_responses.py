"""OpenAI's Responses API: ``POST /v1/responses`` and ``GET`` / ``DELETE`` / ``POST .../cancel`` /
``GET .../input_items`` on ``/v1/responses/{id}`` (docs/openai.md).

A response is a botport turn: a server-side job that outlives the request. ``stream: true`` renders
its events as the API's typed events (:mod:`botport.api.openai_responses_stream`); ``background: true``
returns at once, and ``GET ?stream=true&starting_after=N`` follows it from any instance, resuming after
the event numbered N. Where a request asks is decided in :mod:`botport.api.openai_responses_context`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from botport.api import openai_responses_context as context
from botport.api.deps import ApiKeyIdentityDep, Services, ServicesDep
from botport.api.errors import exception_response
from botport.api.openai import bot_for_model
from botport.api.openai_errors import OpenAIRoute, with_param
from botport.api.openai_render import failed_turn
from botport.api.openai_responses_input import ReadInput, ResponseCreateRequest, numbered, read_input
from botport.api.openai_responses_objects import ResponseMeta, status_of, stored_response
from botport.api.openai_responses_stream import response_frames
from botport.api.openai_schemas import CONVERSATION_HEADER
from botport.api.responses import OpenAIErrorBody, errors
from botport.api.turn_edge import IdempotencyKeyHeader, retry_headers, sse_response, unless_disconnected
from botport.chat.events import TurnFailed
from botport.chat.handles import TurnHandle, fingerprint
from botport.errors import BadRequestError, BotportError, NotFoundError
from botport.identity import Identity
from botport.settings import BotConfig
from botport.sse import KEEPALIVE_SECONDS
from botport.store import repository as repo
from botport.store.records import MessageRecord
from botport.store.responses import ResponseRow, delete_response, find_response, insert_response

router = APIRouter(
    prefix="/v1",
    tags=["openai"],
    route_class=OpenAIRoute,
    responses=errors(OpenAIErrorBody, 400, 401, 404, 408, 409, 413, 422, 429, 502, 503, 504),
)

CANCEL_WAIT = 10.0  # seconds a cancel waits for the turn to store its end, to answer with it
_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Typed SSE events when streaming"}
}


@router.post("/responses", responses=_STREAM_DOC)
async def create_response(
    body: ResponseCreateRequest,
    request: Request,
    identity: ApiKeyIdentityDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    bot = bot_for_model(services.bots, body.model)
    store, background = body.store is not False, bool(body.background)
    if background and not store:
        raise with_param(BadRequestError("background requires store", code="invalid_request"), "background")
    if body.conversation is not None:
        message = "conversation is not supported; continue with previous_response_id"
        raise with_param(BadRequestError(message, code="unsupported_parameter"), "conversation")
    read = read_input(body.input)
    # A repeat that only switches streaming on or off asks the same thing.
    digest = fingerprint("v1.responses", body.model_dump(mode="json", exclude={"stream"}))
    chat = services.chat
    try:
        handle, forget = await _start_or_repeat(services, identity, bot, body, read, idempotency_key, digest)
    except BotportError as exc:
        return exception_response(request, exc)
    row = await services.db.write(
        partial(
            insert_response,
            owner=identity.owner,
            conversation_id=handle.conversation.id,
            message_id=handle.message_id,
            previous_response_id=body.previous_response_id,
            model=bot.slug,
            background=background,
            stored=store,
            params=body.echoed(),
            input_items=numbered(read.items, handle.message_id),
        )
    )
    meta = ResponseMeta.of_row(row)
    headers = {CONVERSATION_HEADER: handle.conversation.id}
    # store=false: forgotten once delivered (not before: the answer is read back from the store).
    forget_it = partial(context.forget_when_done, services, identity, handle) if forget else None
    if body.stream:
        # A client that goes away stops the answer, unless it asked for a background one.
        events = chat.watch(handle, keepalive=KEEPALIVE_SECONDS, cancel_on_exit=not background, join=False)
        return sse_response(_then(response_frames(meta, events), forget_it), headers=headers)
    if background:
        return JSONResponse(stored_response(meta, handle.answer), headers=headers)
    stop = partial(chat.stop_turn, handle, "client_disconnected", "the client went away")
    try:
        result = await unless_disconnected(request, chat.result(handle), stop)
    finally:
        if forget_it is not None:
            forget_it()
    # A failure is an error, as for Chat Completions; a cancelled response is returned as such.
    if isinstance(result.end, TurnFailed) and status_of(result.message)[0] == "failed":
        headers.update(retry_headers(result.end))
        return JSONResponse(failed_turn(result.end), status_code=result.end.http_status, headers=headers)
    return JSONResponse(stored_response(meta, result.message), headers=headers)


async def _start_or_repeat(
    services: Services,
    identity: Identity,
    bot: BotConfig,
    body: ResponseCreateRequest,
    read: ReadInput,
    key: str | None,
    digest: str,
) -> tuple[TurnHandle, bool]:
    """The turn an earlier request with this Idempotency-Key started, or a new one; and whether its
    exchange is to be forgotten once delivered."""
    handle = await services.chat.find_repeat(identity, key, digest)
    if handle is not None:
        return handle, False
    previous = None
    if body.previous_response_id:
        previous = await context.previous_answer(services, identity, bot, body.previous_response_id)
    return await context.start(
        services,
        identity,
        bot,
        read.asked,
        previous=previous,
        store=body.store is not False,
        key=key,
        digest=digest,
    )


async def _then(frames: AsyncIterator[bytes], done: Callable[[], None] | None) -> AsyncIterator[bytes]:
    """The frames, then ``done()`` — also when the client went away first."""
    try:
        async for chunk in frames:
            yield chunk
    finally:
        if done is not None:
            done()


# --- a stored response ----------------------------------------------------------------------


async def _owned(
    services: Services, identity: Identity, response_id: str
) -> tuple[ResponseRow, MessageRecord]:
    row = await services.db.read_op(
        lambda conn: find_response(conn, owner=identity.owner, response_id=response_id)
    )
    message = None
    if row is not None:
        async with services.db.read() as conn:
            message = await repo.get_message(conn, message_id=row.message_id)
    if row is None or message is None:
        raise NotFoundError(
            f"there is no response {response_id!r} for this API key", code="response_not_found"
        )
    return row, message


@router.get("/responses/{response_id}", responses=_STREAM_DOC)
async def get_response(
    response_id: str,
    identity: ApiKeyIdentityDep,
    services: ServicesDep,
    stream: Annotated[bool, Query(description="Stream the response's events (from its start).")] = False,
    starting_after: Annotated[
        int | None, Query(ge=-1, description="With stream: resume after the event with this sequence_number.")
    ] = None,
) -> Response:
    row, message = await _owned(services, identity, response_id)
    meta = ResponseMeta.of_row(row)
    if not stream:
        return JSONResponse(stored_response(meta, message))
    handle = await services.chat.owned_answer(identity, row.message_id)
    # Never stops it (a reader left); unjoined, so the events are numbered as the first stream's were.
    events = services.chat.watch(handle, keepalive=KEEPALIVE_SECONDS, join=False)
    after = -1 if starting_after is None else starting_after
    return sse_response(response_frames(meta, events, starting_after=after))


@router.post("/responses/{response_id}/cancel")
async def cancel_response(
    response_id: str, identity: ApiKeyIdentityDep, services: ServicesDep
) -> JSONResponse:
    """Stop a response in progress (its partial answer stays); a finished one is returned as it is."""
    row, message = await _owned(services, identity, response_id)
    if message.status == "streaming":
        handle = await services.chat.owned_answer(identity, row.message_id)
        services.chat.stop_turn(handle, "cancelled", "cancelled by the client")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CANCEL_WAIT):
                message = (await services.chat.result(handle)).message
    return JSONResponse(stored_response(ResponseMeta.of_row(row), message))


@router.delete("/responses/{response_id}")
async def delete_stored_response(
    response_id: str, identity: ApiKeyIdentityDep, services: ServicesDep
) -> dict[str, Any]:
    """Forget the response (stopped first if in progress). Its messages stay in the key's conversation
    (``DELETE /api/conversations/{id}`` removes that)."""
    row, message = await _owned(services, identity, response_id)
    if message.status == "streaming":
        handle: TurnHandle = await services.chat.owned_answer(identity, row.message_id)
        services.chat.stop_turn(handle, "cancelled", "the response was deleted")
    await services.db.write(partial(delete_response, owner=identity.owner, response_id=row.id))
    return {"id": row.id, "object": "response.deleted", "deleted": True}


@router.get("/responses/{response_id}/input_items")
async def list_input_items(
    response_id: str,
    identity: ApiKeyIdentityDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    after: Annotated[str | None, Query(description="List the items after this item id.")] = None,
) -> dict[str, Any]:
    row, _ = await _owned(services, identity, response_id)
    items = row.input_items if order == "asc" else list(reversed(row.input_items))
    if after is not None:
        ids = [item.get("id") for item in items]
        if after not in ids:
            raise with_param(NotFoundError(f"no input item {after!r}", code="item_not_found"), "after")
        items = items[ids.index(after) + 1 :]
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }
