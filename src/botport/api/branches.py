"""Edit a question, regenerate an answer, and switch between the versions they leave (docs/api.md,
"Versions and branches"). The edit and the regenerate answer like sending a message."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from botport.api.deps import ChatServiceDep, IdentityDep, ServicesDep
from botport.api.files import attachment_limits
from botport.api.responses import ErrorBody, errors
from botport.api.schemas import BranchSwitch, MessageCreate, MessageList, MessagePublic, RegenerateRequest
from botport.api.turn_edge import IdempotencyKeyHeader
from botport.api.web import RenderHeader, message_list, thread_attachments, turn_response
from botport.chat.attachments import attachments_for_edit, question_attachments
from botport.chat.branches import NewVersion, edited_question, regenerated_answer
from botport.chat.handles import TurnRequest, fingerprint
from botport.errors import BadRequestError, NotFoundError, TurnInProgressError
from botport.identity import Identity
from botport.store import repository as repo
from botport.store.attachments import AttachmentRecord
from botport.store.branches import NotInConversation, TurnRunning, switch_branch

router = APIRouter(
    prefix="/api/conversations/{conversation_id}",
    tags=["chat"],
    responses=errors(ErrorBody, 400, 401, 403, 404, 409, 422, 429),
)

_BUSY = "an answer is being written in this conversation; wait for it or stop it first"
_TURN_RESPONSES = {
    200: {"content": {"text/event-stream": {}}, "description": "SSE when stream is true"},
    **errors(ErrorBody, 502, 503, 504),
}


@router.post("/messages/{message_id}/edit", response_model=MessagePublic, responses=_TURN_RESPONSES)
async def edit_question(
    conversation_id: str,
    message_id: str,
    body: MessageCreate,
    request: Request,
    identity: IdentityDep,
    chat: ChatServiceDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
    render: RenderHeader = "",
) -> StreamingResponse | JSONResponse:
    """Send a new version of a question: a new branch from the message before it. The earlier version
    and its answers stay, as the other branch. Without ``attachments`` the new version keeps the
    question's own; with them, it carries exactly those."""
    version = await edited_question(chat.db, identity, conversation_id, message_id, body.content)
    ids = body.attachments if "attachments" in body.model_fields_set else None
    files = await attachments_for_edit(
        chat.db,
        owner=identity.owner,
        question_id=message_id,
        ids=ids,
        limits=attachment_limits(services.settings),
    )
    asked: list[object] = [conversation_id, message_id, body.content]
    digest = fingerprint("api.edit", asked if ids is None else [*asked, ids])
    turn = _request(identity, conversation_id, version, idempotency_key, digest, files)
    handle = await chat.start_turn(turn)
    return await turn_response(handle, body, request, chat, render)


@router.post("/messages/{message_id}/regenerate", response_model=MessagePublic, responses=_TURN_RESPONSES)
async def regenerate_answer(
    conversation_id: str,
    message_id: str,
    request: Request,
    identity: IdentityDep,
    chat: ChatServiceDep,
    body: RegenerateRequest | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
    render: RenderHeader = "",
) -> StreamingResponse | JSONResponse:
    """Answer an answer's question again, as a new version of that answer (the question is not
    repeated). Works for any answer, failed or not, last or not."""
    version = await regenerated_answer(chat.db, identity, conversation_id, message_id)
    question_id = version.branch.parent_id or ""  # a regenerated answer follows its question
    files = await question_attachments(chat.db, message_id=question_id)
    digest = fingerprint("api.regenerate", [conversation_id, message_id])
    turn = _request(identity, conversation_id, version, idempotency_key, digest, files)
    handle = await chat.start_turn(turn)
    return await turn_response(handle, body or RegenerateRequest(), request, chat, render)


@router.put("/branch", response_model=MessageList)
async def choose_branch(
    conversation_id: str,
    body: BranchSwitch,
    identity: IdentityDep,
    services: ServicesDep,
    chat: ChatServiceDep,
) -> MessageList:
    """Read the conversation along another version of a message; returns the messages as they now read."""
    async with services.db.read() as conn:
        conversation = await repo.get_conversation(
            conn, owner=identity.owner, conversation_id=conversation_id
        )
    if conversation is None:
        raise NotFoundError("no such conversation", code="conversation_not_found")
    if chat.is_running(conversation_id):
        raise TurnInProgressError(_BUSY)
    owner = identity.owner
    try:
        thread = await services.db.write(
            lambda conn: switch_branch(
                conn, owner=owner, conversation_id=conversation_id, message_id=body.message_id
            )
        )
    except NotInConversation:
        # 409, not 404: the conversation (the path's resource) is there; the body names no message of it.
        message = "message_id names no message of this conversation"
        raise BadRequestError(message, code="message_not_found", status=409) from None
    except TurnRunning:
        raise TurnInProgressError(_BUSY) from None
    async with services.db.read() as conn:
        files = await conn.run_sync(thread_attachments, thread=thread)
    return message_list(thread, files)


def _request(
    identity: Identity,
    conversation_id: str,
    version: NewVersion,
    key: str | None,
    digest: str,
    files: tuple[AttachmentRecord, ...],
) -> TurnRequest:
    return TurnRequest(
        identity=identity,
        conversation_id=conversation_id,
        content=version.question,
        idempotency_key=key,
        fingerprint=digest,
        branch=version.branch,
        store_question=version.store_question,
        attachments=files,
    )
