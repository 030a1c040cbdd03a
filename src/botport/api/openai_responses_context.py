"""Where a Responses API request asks, and what it leaves behind.

- ``previous_response_id`` names the answer to continue from. When that answer is still the newest of
  its conversation's branch, the question goes to the same Coze conversation: Coze keeps the context,
  nothing is replayed. When the conversation went on since (another response continued from it), the
  new response is a branch from it: a new Coze conversation seeded once with the kept history
  (:mod:`botport.chat.seeding`), as an edited question in the page is.
- Without it, the input's earlier messages are the history, matched to a stored conversation as the
  Chat Completions edge does (:func:`botport.api.openai_context.conversation_for_question`).
- ``function_call_output`` items answer the chat paused on those calls.
- ``store: false``: the exchange happens in a conversation of its own, seeded with the history, and is
  forgotten (here and in Coze) once it is over — unless it waits for function outputs; the
  continuation that brings them forgets it then.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from botport.api.deps import Services
from botport.api.openai_context import (
    MAX_EARLIER_TURNS,
    BranchFrom,
    NewQuestion,
    ToolResults,
    check_outputs,
    conversation_for_question,
    paused_chat,
    turn_request,
)
from botport.api.openai_errors import OpenAIError, with_param
from botport.api.openai_files import attach_files
from botport.chat.handles import TurnHandle, TurnRequest
from botport.chat.text import title_from
from botport.errors import BadRequestError, NotFoundError
from botport.identity import Identity
from botport.settings import BotConfig
from botport.store import repository as repo
from botport.store.branches import kept_coze_conversations
from botport.store.records import ConversationRecord, MessageRecord
from botport.store.responses import ResponseRow, find_response, response_id_of
from botport.store.thread import path_to
from botport.store.turns import BranchPoint, NewConversation

log = logging.getLogger(__name__)

_forgetting: set[asyncio.Task[None]] = set()  # store=false exchanges being forgotten (kept referenced)


def _bad(message: str, code: str, param: str) -> OpenAIError:
    return with_param(BadRequestError(message, code=code), param)


async def previous_answer(
    services: Services, identity: Identity, bot: BotConfig, response_id: str
) -> tuple[ResponseRow, ConversationRecord, MessageRecord]:
    """The response to continue from, its conversation and its answer (404 when it is not the caller's)."""

    row = await services.db.read_op(
        lambda conn: find_response(conn, owner=identity.owner, response_id=response_id)
    )
    async with services.db.read() as conn:
        conversation = (
            await repo.get_conversation(conn, owner=identity.owner, conversation_id=row.conversation_id)
            if row
            else None
        )
        answer = await repo.get_message(conn, message_id=row.message_id) if row else None
    if row is None or conversation is None or answer is None:
        error = NotFoundError(
            f"there is no response {response_id!r} for this API key (a response made with store=false "
            "cannot be continued from)",
            code="previous_response_not_found",
        )
        raise with_param(error, "previous_response_id")
    if conversation.bot != bot.slug:
        raise _bad(
            f"response {response_id!r} was made by model {conversation.bot!r}", "model_mismatch", "model"
        )
    return row, conversation, answer


async def start(
    services: Services,
    identity: Identity,
    bot: BotConfig,
    asked: NewQuestion | ToolResults,
    *,
    previous: tuple[ResponseRow, ConversationRecord, MessageRecord] | None,
    store: bool,
    key: str | None,
    digest: str,
) -> tuple[TurnHandle, bool]:
    """The turn started, and whether its exchange is to be forgotten once over (store=false)."""
    if isinstance(asked, ToolResults):
        conversation, paused = await _paused(services, identity, bot, asked, previous)
        unstored = await services.db.read_op(
            lambda conn: find_response(
                conn, owner=identity.owner, response_id=response_id_of(paused.id), stored_only=False
            )
        )
        assert paused.upstream_chat_id is not None
        handle = await services.chat.continue_with_tool_outputs(
            identity,
            conversation.id,
            paused.upstream_chat_id,
            asked.outputs,
            idempotency_key=key,
            fingerprint=digest,
        )
        # Forgotten only when the paused exchange was a store=false one: a stored one stays stored.
        return handle, unstored is not None and not unstored.stored
    return await _ask(
        services, identity, bot, asked, previous=previous, store=store, key=key, digest=digest
    ), not store


async def _ask(
    services: Services,
    identity: Identity,
    bot: BotConfig,
    asked: NewQuestion,
    *,
    previous: tuple[ResponseRow, ConversationRecord, MessageRecord] | None,
    store: bool,
    key: str | None,
    digest: str,
) -> TurnHandle:
    async def begin(request: TurnRequest) -> TurnHandle:
        if asked.files:
            attachments, remote = await attach_files(services, identity, asked.files)
            request = replace(request, attachments=attachments, remote_files=remote)
        return await services.chat.start_turn(request)

    if not store:  # a conversation of its own, with the history it continues
        earlier = [*(await _history(services, previous)), *asked.earlier]
        question = replace(asked, earlier=tuple(earlier))
        new = NewConversation(bot.slug, title_from(asked.content), question.earlier[-MAX_EARLIER_TURNS:])
        return await begin(turn_request(new, identity, question, key=key, digest=digest))
    if previous is not None:
        _, conversation, answer = previous
        if asked.earlier:
            raise _bad(
                "with previous_response_id, input holds only the new turn: one user message "
                "(the earlier ones are in the previous response's conversation)",
                "unsupported_input",
                "input",
            )
        if answer.status == "streaming":
            raise with_param(
                BadRequestError(
                    "the previous response is still in progress; wait for it or cancel it first",
                    code="previous_response_in_progress",
                    status=409,
                ),
                "previous_response_id",
            )
        # Continue the branch it ends; from an older answer, branch off (a new Coze conversation).
        found: str | BranchFrom = conversation.id
        if conversation.leaf_id != answer.id:
            found = BranchFrom(conversation.id, BranchPoint(answer.id), store_question=True)
        return await begin(turn_request(found, identity, asked, key=key, digest=digest))
    matched = await conversation_for_question(services.db, identity, bot, asked, None)
    return await begin(turn_request(matched, identity, asked, key=key, digest=digest))


async def _history(
    services: Services, previous: tuple[ResponseRow, ConversationRecord, MessageRecord] | None
) -> list[tuple[str, str]]:
    """The completed (role, text) turns up to and with the previous response's answer."""
    if previous is None:
        return []
    _, conversation, answer = previous
    async with services.db.read() as conn:
        path = await conn.run_sync(path_to, conversation_id=conversation.id, message_id=answer.id)
    return [(m.role, m.content) for m in path if m.status == "completed"]


async def _paused(
    services: Services,
    identity: Identity,
    bot: BotConfig,
    results: ToolResults,
    previous: tuple[ResponseRow, ConversationRecord, MessageRecord] | None,
) -> tuple[ConversationRecord, MessageRecord]:
    if previous is None:
        return await paused_chat(services.db, identity, bot, results, None)
    _, conversation, paused = previous
    if paused.status != "requires_action" or not paused.upstream_chat_id or conversation.leaf_id != paused.id:
        raise _bad("the previous response does not wait for function call outputs", "no_paused_chat", "input")
    check_outputs(paused, results, param="input")
    return conversation, paused


# --- store: false ---------------------------------------------------------------------------


def forget_when_done(services: Services, identity: Identity, handle: TurnHandle) -> None:
    """Once the turn is over, delete its conversation here and in Coze (unless it waits for function
    outputs: then the continuation that brings them does)."""

    async def forget() -> None:
        result = await services.chat.result(handle)
        if result.message.status == "requires_action":
            return
        conversation_id = handle.conversation.id
        async with services.db.connect() as conn:
            branches = await conn.run_sync(kept_coze_conversations, conversation_id=conversation_id)
            record = await repo.get_conversation(conn, owner=identity.owner, conversation_id=conversation_id)
            await repo.delete_conversation(conn, owner=identity.owner, conversation_id=conversation_id)
        for coze_id in dict.fromkeys([record.coze_conversation_id if record else None, *branches]):
            if coze_id:
                services.coze_sync.delete_conversation(coze_id)

    task = asyncio.get_running_loop().create_task(forget())
    _forgetting.add(task)
    task.add_done_callback(_forgotten)


def _forgotten(task: asyncio.Task[None]) -> None:
    _forgetting.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("could not forget a store=false exchange: %s", task.exception())
