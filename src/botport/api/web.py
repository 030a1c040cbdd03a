"""botport's own API: bots, conversations, messages (JSON + SSE). See docs/api.md."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, replace
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse

from botport import __version__
from botport.api.deps import BotsDep, ChatServiceDep, IdentityDep, ServicesDep
from botport.api.schemas import (
    BotPublic,
    CancelResult,
    ConfigPublic,
    ConversationCreate,
    ConversationPage,
    ConversationPublic,
    ConversationUpdate,
    Limits,
    MessageCreate,
    MessageList,
    MessagePublic,
)
from botport.api.sse import KEEPALIVE_FRAME, frame, sse_response
from botport.chat.events import (
    FollowUps,
    MessageCompleted,
    ReasoningDelta,
    TextDelta,
    ToolCallsRequired,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from botport.chat.service import TurnRequest
from botport.chat.turn import KEEPALIVE, Turn
from botport.errors import NotFoundError
from botport.store import repository as repo
from botport.store.records import ConversationRecord

router = APIRouter(prefix="/api", tags=["chat"])

KEEPALIVE_SECONDS = 15.0


@router.get("/config", response_model=ConfigPublic)
async def get_config(services: ServicesDep) -> ConfigPublic:
    return ConfigPublic(
        version=__version__,
        demo_mode=services.settings.demo_mode,
        bots=[BotPublic.of(bot) for bot in services.bots],
        limits=Limits(max_message_chars=services.settings.max_message_chars),
    )


@router.get("/bots", response_model=list[BotPublic])
async def list_bots(bots: BotsDep) -> list[BotPublic]:
    return [BotPublic.of(bot) for bot in bots]


@router.post("/conversations", status_code=201, response_model=ConversationPublic)
async def create_conversation(
    body: ConversationCreate, identity: IdentityDep, services: ServicesDep
) -> ConversationPublic:
    bot = services.bots.get(body.bot)
    async with services.db.connect() as conn:
        record = await repo.create_conversation(conn, identity.owner, bot.slug, body.title.strip())
    return ConversationPublic.of(record)


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    identity: IdentityDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ConversationPage:
    async with services.db.read() as conn:
        page = await repo.list_conversations(conn, identity.owner, limit=limit, before=before)
    return ConversationPage(
        items=[ConversationPublic.of(c) for c in page.items], next_cursor=page.next_cursor
    )


async def _get_owned(services: ServicesDep, owner: str, conversation_id: str) -> ConversationRecord:
    async with services.db.read() as conn:
        record = await repo.get_conversation(conn, owner, conversation_id)
    if record is None:
        raise NotFoundError("no such conversation", code="conversation_not_found")
    return record


@router.get("/conversations/{conversation_id}", response_model=ConversationPublic)
async def get_conversation(
    conversation_id: str, identity: IdentityDep, services: ServicesDep
) -> ConversationPublic:
    return ConversationPublic.of(await _get_owned(services, identity.owner, conversation_id))


@router.patch("/conversations/{conversation_id}", response_model=ConversationPublic)
async def rename_conversation(
    conversation_id: str, body: ConversationUpdate, identity: IdentityDep, services: ServicesDep
) -> ConversationPublic:
    async with services.db.connect() as conn:
        record = await repo.rename_conversation(conn, identity.owner, conversation_id, body.title.strip())
    if record is None:
        raise NotFoundError("no such conversation", code="conversation_not_found")
    return ConversationPublic.of(record)


@router.delete("/conversations/{conversation_id}", status_code=204)
async def delete_conversation(
    conversation_id: str, identity: IdentityDep, services: ServicesDep, chat: ChatServiceDep
) -> Response:
    await _get_owned(services, identity.owner, conversation_id)
    if chat.is_running(conversation_id):
        await chat.cancel(identity, conversation_id)
    async with services.db.connect() as conn:
        await repo.delete_conversation(conn, identity.owner, conversation_id)
    return Response(status_code=204)


@router.get("/conversations/{conversation_id}/messages", response_model=MessageList)
async def list_messages(conversation_id: str, identity: IdentityDep, services: ServicesDep) -> MessageList:
    await _get_owned(services, identity.owner, conversation_id)
    async with services.db.read() as conn:
        records = await repo.list_messages(conn, conversation_id)
    return MessageList(items=[MessagePublic.of(m) for m in records])


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=MessagePublic,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE when stream is true"}},
)
async def send_message(
    conversation_id: str, body: MessageCreate, identity: IdentityDep, chat: ChatServiceDep
) -> StreamingResponse | JSONResponse:
    turn = await chat.start_turn(
        TurnRequest(identity=identity, conversation_id=conversation_id, content=body.content)
    )
    if body.stream:
        return sse_response(turn_frames(turn))
    record = await chat.run_to_end(turn)
    public = MessagePublic.of(record)
    status = 200 if record.status in ("completed", "requires_action") else 502
    return JSONResponse(public.model_dump(mode="json"), status_code=status)


@router.post("/conversations/{conversation_id}/cancel", response_model=CancelResult)
async def cancel_turn(conversation_id: str, identity: IdentityDep, chat: ChatServiceDep) -> CancelResult:
    return CancelResult(cancelled=await chat.cancel(identity, conversation_id))


async def turn_frames(turn: Turn) -> AsyncIterator[bytes]:
    """Render a turn's domain events as botport's SSE frames."""
    message_id = turn.answer.id
    async for event in turn.events(keepalive=KEEPALIVE_SECONDS):
        if event is KEEPALIVE:
            yield KEEPALIVE_FRAME
        elif isinstance(event, TextDelta):
            yield frame("text.delta", {"text": event.text})
        elif isinstance(event, ReasoningDelta):
            yield frame("reasoning.delta", {"text": event.text})
        elif isinstance(event, TurnStarted):
            yield frame("turn.started", asdict(event))
        elif isinstance(event, MessageCompleted):
            so_far = replace(turn.answer, content=event.content, reasoning=event.reasoning)
            public = MessagePublic.of(so_far)
            yield frame("message.completed", public.model_dump(mode="json"))
        elif isinstance(event, FollowUps):
            yield frame("follow_ups", {"suggestions": list(event.suggestions)})
        elif isinstance(event, ToolCallsRequired):
            yield frame(
                "tool_calls.required",
                {"chat_id": event.chat_id, "tool_calls": [asdict(c) for c in event.tool_calls]},
            )
        elif isinstance(event, TurnCompleted):
            yield frame(
                "turn.completed",
                {"message_id": message_id, "status": event.status, "usage": asdict(event.usage)},
            )
        elif isinstance(event, TurnFailed):
            data: dict[str, object] = {
                "code": event.code,
                "message": event.message,
                "status": event.http_status,
                "message_id": event.message_id,
                "turn_status": event.status,
            }
            if event.logid:
                data["logid"] = event.logid
            if event.upstream_code is not None:
                data["upstream_code"] = event.upstream_code
            yield frame("error", data)
