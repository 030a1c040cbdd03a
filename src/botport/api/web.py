"""botport's own API: bots, conversations, messages (JSON + SSE). See docs/api.md."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, replace
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.engine import Connection

from botport import __version__
from botport.api.deps import BotsDep, ChatServiceDep, IdentityDep, ServicesDep
from botport.api.errors import turn_failure
from botport.api.files import attachment_limits
from botport.api.live_render import Snapshot, with_snapshots
from botport.api.responses import ErrorBody, errors
from botport.api.schemas import (
    BotPublic,
    CancelResult,
    ConfigPublic,
    ConversationCreate,
    ConversationDetail,
    ConversationPage,
    ConversationPublic,
    ConversationUpdate,
    Limits,
    MessageCreate,
    MessageList,
    MessagePublic,
    RegenerateRequest,
    RunningTurn,
)
from botport.api.turn_edge import (
    MESSAGE_ID_HEADER,
    IdempotencyKeyHeader,
    retry_headers,
    sse_response,
    unless_disconnected,
)
from botport.api.web_access import admitted
from botport.chat.attachments import attachments_for_turn
from botport.chat.coze_sync import coze_conversation_of
from botport.chat.eventlog import Entry, Keepalive
from botport.chat.events import (
    DomainEvent,
    FollowUps,
    MessageCompleted,
    ReasoningDelta,
    TextDelta,
    ToolCallsRequired,
    TurnCompleted,
    TurnStarted,
)
from botport.chat.handles import TurnHandle, TurnRequest, fingerprint
from botport.errors import BadRequestError, NotFoundError
from botport.images import ACCEPTED_TYPES
from botport.sse import KEEPALIVE_FRAME, KEEPALIVE_SECONDS, frame
from botport.store import repository as repo
from botport.store.attachments import AttachmentRecord, attachments_of
from botport.store.branches import kept_coze_conversations
from botport.store.pins import MAX_PINNED, set_pinned
from botport.store.records import ConversationRecord, MessageRecord
from botport.store.thread import Thread, read_thread, versions_of

RenderHeader = Annotated[
    Literal["", "html"],
    Header(
        alias="X-Botport-Render",
        description="`html`: the stream also carries `text.rendered` frames, the sanitised HTML of the "
        "answer so far (the page sends it to show markdown while it streams).",
    ),
]

router = APIRouter(
    prefix="/api", tags=["chat"], responses=errors(ErrorBody, 400, 401, 403, 404, 408, 413, 422, 429)
)


@router.get("/config", response_model=ConfigPublic)
async def get_config(request: Request, services: ServicesDep) -> ConfigPublic:
    identity = request.scope.get("state", {}).get("web_identity")
    attaching = services.settings.max_attachments > 0
    return ConfigPublic(
        version=__version__,
        demo_mode=services.settings.demo_mode,
        bots=[BotPublic.of(bot) for bot in services.bots],
        limits=Limits(max_message_chars=services.settings.max_message_chars),
        access=services.settings.web_access,
        admitted=admitted(request, services.settings, services.signer, identity),
        max_attachment_bytes=services.settings.max_attachment_bytes if attaching else 0,
        max_attachments=services.settings.max_attachments,
        attachment_types=list(ACCEPTED_TYPES) if attaching else [],
    )


@router.get("/bots", response_model=list[BotPublic])
async def list_bots(bots: BotsDep) -> list[BotPublic]:
    return [BotPublic.of(bot) for bot in bots]


@router.post("/conversations", status_code=201, response_model=ConversationPublic)
async def create_conversation(
    body: ConversationCreate, identity: IdentityDep, services: ServicesDep
) -> ConversationPublic:
    bot = services.bots.get(body.bot)
    owner, title = identity.owner, body.title.strip()
    record = await services.db.write(
        lambda conn: repo.insert_conversation(conn, owner=owner, bot=bot.slug, title=title)
    )
    return ConversationPublic.of(record)


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    identity: IdentityDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[
        str | None,
        # Documented, checked by the store (400 invalid paging cursor, as before): every string of this
        # form decodes, so a schema-valid cursor is never refused.
        Query(
            description="next_cursor of the previous page", json_schema_extra={"pattern": repo.CURSOR_PATTERN}
        ),
    ] = None,
) -> ConversationPage:
    async with services.db.read() as conn:
        page = await repo.list_conversations(conn, owner=identity.owner, limit=limit, before=before)
    return ConversationPage(
        items=[ConversationPublic.of(c) for c in page.items], next_cursor=page.next_cursor
    )


async def _get_owned(services: ServicesDep, owner: str, conversation_id: str) -> ConversationRecord:
    async with services.db.read() as conn:
        record = await repo.get_conversation(conn, owner=owner, conversation_id=conversation_id)
    if record is None:
        raise NotFoundError("no such conversation", code="conversation_not_found")
    return record


@router.get("/conversations/{conversation_id}", response_model=ConversationDetail)
async def get_conversation(
    conversation_id: str, identity: IdentityDep, services: ServicesDep
) -> ConversationDetail:
    record = await _get_owned(services, identity.owner, conversation_id)
    running = await services.chat.running_turn(conversation_id)
    turn = RunningTurn(message_id=running[0], user_message_id=running[1]) if running else None
    return ConversationDetail.of(record, turn)


@router.patch(
    "/conversations/{conversation_id}",
    response_model=ConversationPublic,
    responses={409: {"model": ErrorBody, "description": f"{MAX_PINNED} conversations are pinned already"}},
)
async def rename_conversation(
    conversation_id: str, body: ConversationUpdate, identity: IdentityDep, services: ServicesDep
) -> ConversationPublic:
    """Rename (``title``) and/or pin or unpin (``pinned``) a conversation; neither reorders it."""
    owner = identity.owner
    async with services.db.connect() as conn:
        record = await repo.get_conversation(conn, owner=owner, conversation_id=conversation_id)
        if record is not None and body.title is not None:
            title = body.title.strip()
            record = await repo.rename_conversation(
                conn, owner=owner, conversation_id=conversation_id, title=title
            )
        if record is not None and body.pinned is not None:
            record = await conn.run_sync(
                set_pinned, owner=owner, conversation_id=conversation_id, pinned=body.pinned
            )
    if record is None:
        raise NotFoundError("no such conversation", code="conversation_not_found")
    return ConversationPublic.of(record)


@router.delete("/conversations/{conversation_id}", status_code=204)
async def delete_conversation(
    conversation_id: str, identity: IdentityDep, services: ServicesDep, chat: ChatServiceDep
) -> Response:
    record = await _get_owned(services, identity.owner, conversation_id)
    coze_id = coze_conversation_of(record, chat.running_turns())  # before the turn below ends
    # Stop a running answer first, wherever it runs, so its Coze chat does not go on for nobody.
    await chat.cancel(identity, conversation_id)
    async with services.db.connect() as conn:
        branches = await conn.run_sync(kept_coze_conversations, conversation_id=conversation_id)
        deleted = await repo.delete_conversation(conn, owner=identity.owner, conversation_id=conversation_id)
    # Coze's copies too (each branch has its own), in the background, with retries (chat.coze_sync).
    for coze_conversation in dict.fromkeys([coze_id, *branches] if deleted else []):
        if coze_conversation:
            services.coze_sync.delete_conversation(coze_conversation)
    return Response(status_code=204)


@router.get("/conversations/{conversation_id}/messages", response_model=MessageList)
async def list_messages(conversation_id: str, identity: IdentityDep, services: ServicesDep) -> MessageList:
    await _get_owned(services, identity.owner, conversation_id)
    async with services.db.read() as conn:
        thread = await conn.run_sync(read_thread, conversation_id=conversation_id)
        files = await conn.run_sync(thread_attachments, thread=thread)
    return message_list(thread, files)


def thread_attachments(conn: Connection, *, thread: Thread) -> dict[str, list[AttachmentRecord]]:
    """The attachments of the questions on the branch being read, by message id."""
    return attachments_of(conn, message_ids=[m.id for m in thread.path if m.role == "user"])


def message_list(thread: Thread, files: Mapping[str, Sequence[AttachmentRecord]]) -> MessageList:
    """The branch being read, each message with its versions and attachments."""
    return MessageList(
        items=[MessagePublic.of(m, thread.versions.get(m.id), files.get(m.id, ())) for m in thread.path]
    )


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=MessagePublic,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "SSE when stream is true"},
        **errors(ErrorBody, 409, 502, 503, 504),
    },
)
async def send_message(
    conversation_id: str,
    body: MessageCreate,
    request: Request,
    identity: IdentityDep,
    chat: ChatServiceDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    render: RenderHeader = "",
) -> StreamingResponse | JSONResponse:
    limits = attachment_limits(services.settings)
    files = await attachments_for_turn(chat.db, owner=identity.owner, ids=body.attachments, limits=limits)
    asked: list[object] = [conversation_id, body.content]
    handle = await chat.start_turn(
        TurnRequest(
            identity=identity,
            conversation_id=conversation_id,
            content=body.content,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint("api.messages", [*asked, body.attachments] if files else asked),
            attachments=files,
        )
    )
    return await turn_response(handle, body, request, chat, render)


async def turn_response(
    handle: TurnHandle,
    body: MessageCreate | RegenerateRequest,
    request: Request,
    chat: ChatServiceDep,
    render: RenderHeader,
) -> StreamingResponse | JSONResponse:
    """A started turn as the request asked for it: its events (SSE) or, at its end, the answer."""
    if body.stream:
        events: AsyncIterator[Entry | Keepalive | Snapshot]
        events = chat.watch(handle, keepalive=KEEPALIVE_SECONDS, cancel_on_exit=body.cancel_on_disconnect)
        if render == "html":
            events = with_snapshots(events)
        return sse_response(turn_frames(handle, events), headers={MESSAGE_ID_HEADER: handle.message_id})
    work = chat.result(handle)
    if body.cancel_on_disconnect:
        stop = partial(chat.stop_turn, handle, "client_disconnected", "the client went away")
        result = await unless_disconnected(request, work, stop)
    else:
        result = await work
    async with chat.db.read() as conn:  # as the message list shows it, with its versions
        versions = await conn.run_sync(versions_of, message=result.message)
    public = MessagePublic.of(result.message, versions)
    status = 200 if result.ok else 502
    headers = {MESSAGE_ID_HEADER: handle.message_id, **retry_headers(result.end)}
    return JSONResponse(public.model_dump(mode="json"), status_code=status, headers=headers)


@router.get(
    "/messages/{message_id}/events",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "the turn's events after `after`"},
    },
)
async def follow_message(
    message_id: str,
    identity: IdentityDep,
    chat: ChatServiceDep,
    after: Annotated[
        int | None, Query(ge=0, description="Replay the events after this sequence number (the SSE id).")
    ] = None,
    # "" rather than None when absent: the document then says string (a nullable header is sent as "null").
    last_event_id: Annotated[
        str,
        Header(
            alias="Last-Event-ID",
            description="The standard SSE resume header.",
            json_schema_extra={"pattern": "^[0-9]*$"},
        ),
    ] = "",
    render: RenderHeader = "",
) -> StreamingResponse:
    """Replay a turn's events after ``after`` (or ``Last-Event-ID``), then follow it live to its end.

    For a finished turn, the events are replayed from the log while it is kept, then from the
    stored answer. A client that reconnects at any frame gets each delta exactly once."""
    handle = await chat.owned_answer(identity, message_id)
    resume = _event_id(last_event_id)  # checked even when `after` wins: a bad header is refused, not ignored
    start = after if after is not None else resume
    events: AsyncIterator[Entry | Keepalive | Snapshot]
    if render == "html":  # from the start: the snapshot needs the text before `start`
        events = with_snapshots(chat.watch(handle, keepalive=KEEPALIVE_SECONDS, seen=start), after=start)
    else:
        events = chat.watch(handle, after=start, keepalive=KEEPALIVE_SECONDS)
    return sse_response(turn_frames(handle, events), headers={MESSAGE_ID_HEADER: handle.message_id})


def _event_id(value: str) -> int:
    """The header's number: ASCII digits only, as the document's pattern says (int() would also take
    "+5", "1_0" or "٥")."""
    if not value:
        return 0
    if not (value.isascii() and value.isdigit()):
        raise BadRequestError("Last-Event-ID must be a sequence number", code="invalid_event_id")
    return int(value)


@router.post("/conversations/{conversation_id}/cancel", response_model=CancelResult)
async def cancel_turn(conversation_id: str, identity: IdentityDep, chat: ChatServiceDep) -> CancelResult:
    return CancelResult(cancelled=await chat.cancel(identity, conversation_id))


def _as_written(answer: MessageRecord, event: MessageCompleted) -> MessageRecord:
    """The answer as it stood when the message completed (before the turn's end): the same frame
    for every watcher of that number, whenever it connected. Its status is the message's own
    (``completed``; a stored answer replayed after the turn: the status it was stored with), never
    ``streaming``: the turn's outcome comes in its last frame."""
    return replace(
        answer,
        content=event.content,
        reasoning=event.reasoning,
        status=event.status,
        input_tokens=None,
        output_tokens=None,
        total_tokens=None,
        follow_ups=(),
        error_code=None,
        error_message=None,
        tool_calls=None,
    )


async def turn_frames(
    handle: TurnHandle, events: AsyncIterator[Entry | Keepalive | Snapshot]
) -> AsyncIterator[bytes]:
    """Render a turn's numbered domain events as botport's SSE frames (``id:`` is the number; a
    snapshot has none: it is no event of the turn, so a resume number never points at it)."""
    async for item in events:
        if isinstance(item, Keepalive):
            yield KEEPALIVE_FRAME
        elif isinstance(item, Snapshot):
            yield frame({"html": item.html, "seq": item.seq}, event="text.rendered")
        else:
            seq, event = item
            name, data = _named(handle, event)
            yield frame(data, event=name, seq=seq)


def _named(handle: TurnHandle, event: DomainEvent) -> tuple[str, Mapping[str, Any]]:
    """A domain event's frame: its name and its data (docs/api.md)."""
    if isinstance(event, TextDelta):
        return "text.delta", {"text": event.text}
    if isinstance(event, ReasoningDelta):
        return "reasoning.delta", {"text": event.text}
    if isinstance(event, TurnStarted):
        return "turn.started", asdict(event)
    if isinstance(event, MessageCompleted):
        written = MessagePublic.of(_as_written(handle.answer, event))
        return "message.completed", written.model_dump(mode="json")
    if isinstance(event, FollowUps):
        return "follow_ups", {"suggestions": list(event.suggestions)}
    if isinstance(event, ToolCallsRequired):
        calls = [asdict(c) for c in event.tool_calls]
        return "tool_calls.required", {"chat_id": event.chat_id, "tool_calls": calls}
    if isinstance(event, TurnCompleted):
        usage = asdict(event.usage)
        return "turn.completed", {"message_id": handle.message_id, "status": event.status, "usage": usage}
    return "error", turn_failure(event)
