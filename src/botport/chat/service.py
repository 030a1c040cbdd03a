"""The chat service, one for every edge: it starts turns (validate, lock the conversation, store the
question, honour an Idempotency-Key), lets any request watch any turn from any sequence number,
stops turns from any instance, and resolves the turns a dead instance left behind.

A turn itself (:mod:`botport.chat.turn`) runs as a job of its own; edges only render its events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import timedelta
from functools import partial

from botport.bots import BotRegistry
from botport.caller_limits import CallerLimits, TurnTicket
from botport.chat.eventlog import Entry, EventLogs, Keepalive, is_terminal
from botport.chat.follow import TurnFollower
from botport.chat.handles import ToolResult, TurnHandle, TurnRequest, TurnResult
from botport.chat.keeper import TurnKeeper
from botport.chat.openers import QuestionTurns, TurnFactory
from botport.chat.text import require_unicode, title_from
from botport.chat.turn import SHUTDOWN, Turn, TurnEnv, cancel_coze_chat
from botport.errors import (
    BadRequestError,
    ConflictError,
    IdempotencyKeyReusedError,
    NotFoundError,
    TurnInProgressError,
)
from botport.identity import Identity
from botport.store import repository as repo
from botport.store import turns as turn_store
from botport.store.attachments import AttachmentsTaken
from botport.store.db import Database
from botport.store.idempotency import find_idempotent
from botport.store.records import ConversationRecord, MessageRecord
from botport.upstream.client import CozeClient
from botport.upstream.models import ToolOutput
from botport.upstream.stream import ChatStream

log = logging.getLogger(__name__)

BUSY_MESSAGE = "an answer is still being written in this conversation; wait for it or stop it first"
SHUTDOWN_GRACE = 10.0  # seconds for running turns to store their end at shutdown
STORED_POLL = 1.0  # seconds: following a turn another instance runs, without a shared log


class _Repeated(Exception):
    """The Idempotency-Key was taken meanwhile, by a concurrent repeat of the same request."""


class ChatService:
    def __init__(
        self,
        *,
        db: Database,
        coze: CozeClient,
        bots: BotRegistry,
        coze_user_id: Callable[[Identity], str],
        logs: EventLogs,
        runner: str,
        turn_timeout: float,
        max_message_chars: int,
        checkpoint_interval: float,
        lease: float,
        limits: CallerLimits,
    ) -> None:
        self.db = db
        self.coze = coze
        self.bots = bots
        self.coze_user_id = coze_user_id
        self.logs = logs
        self.max_message_chars = max_message_chars
        self.lease = timedelta(seconds=lease)
        self.runner = runner
        self.limits = limits
        # conversation id -> its running turn (None while the turn is being set up)
        self._by_conversation: dict[str, Turn | None] = {}
        self._by_message: dict[str, Turn] = {}
        # (owner, Idempotency-Key) -> the start under way in this process
        self._starting: dict[tuple[str, str], asyncio.Future[TurnHandle]] = {}
        self.keeper = TurnKeeper(
            db=db,
            coze=coze,
            logs=logs,
            runner=self.runner,
            running=self.running_turns,
            interval=checkpoint_interval,
            lease=lease,
        )
        self.follower = TurnFollower(db=db, logs=logs, lease=self.lease, sweep=self._sweep_conversation)
        self.env = TurnEnv(
            db=db,
            coze=coze,
            logs=logs,
            turn_timeout=turn_timeout,
            poke_keeper=self.keeper.poke,
            release=self._release,
            cancel_later=self.keeper.cancel_later,
        )
        self.questions = QuestionTurns(db=db, coze=coze, bots=bots, coze_user_id=coze_user_id, env=self.env)

    # --- lifetime -----------------------------------------------------------------------------

    async def open(self) -> None:
        """Resolve the turns a crash left running, then start keeping this instance's turns.

        With SQLite there is one instance: every ``streaming`` row is an orphan. With a shared
        database only those whose lease ran out are; the keeper takes over the rest when theirs do.
        """
        lease = None if self.db.backend == "sqlite" else self.lease
        await self.keeper.sweep(lease=lease)
        await self.logs.start(self._cancel_requested)
        self.keeper.start()

    async def close(self) -> None:
        """Shutdown: stop every running turn (stored as ``interrupted``, code ``shutdown``)."""
        turns = list(self._by_message.values())
        for turn in turns:
            turn.cancel(*SHUTDOWN)
        if turns:
            await asyncio.wait([asyncio.ensure_future(turn.wait()) for turn in turns], timeout=SHUTDOWN_GRACE)
        await self.keeper.close()
        await self.logs.close()

    def running_turns(self) -> Iterable[Turn]:
        return list(self._by_message.values())

    # --- starting -----------------------------------------------------------------------------

    async def start_turn(self, request: TurnRequest) -> TurnHandle:
        """Validate, lock the conversation, store the question, start the turn and wait until Coze
        took it. Raises before anything is stored when the request is wrong (4xx)."""
        content = request.content.strip()
        if not content and not (request.attachments or request.remote_files):  # a picture is a message
            raise BadRequestError("the message is empty", code="empty_message")
        if len(content) > self.max_message_chars:
            raise BadRequestError(
                f"the message has {len(content)} characters; the limit is {self.max_message_chars}",
                code="message_too_long",
                status=413,
            )
        require_unicode(content, *(text for _, text in request.earlier))
        if request.new_conversation is not None:
            require_unicode(*(text for _, text in request.new_conversation.earlier))

        def check(conv: ConversationRecord) -> None:
            self.bots.get(conv.bot)  # a bot since removed from the configuration: 404, nothing stored

        question = content if request.store_question else None
        make_turn = self.questions.factory(request, content)
        return await self._begin(request, question=question, make_turn=make_turn, check=check)

    async def continue_with_tool_outputs(
        self,
        identity: Identity,
        conversation_id: str,
        chat_id: str,
        results: Iterable[ToolResult],
        *,
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> TurnHandle:
        """Resume a chat paused in ``requires_action`` with the caller's tool results."""
        conversation = await self._owned_conversation(identity.owner, conversation_id)
        if not conversation.coze_conversation_id:
            raise BadRequestError("this conversation has no paused chat", code="no_paused_chat")
        coze_conversation_id = conversation.coze_conversation_id
        outputs = [ToolOutput(tool_call_id=r.tool_call_id, output=r.output) for r in results]

        def opener() -> AbstractAsyncContextManager[ChatStream]:
            return self.coze.stream_submit_tool_outputs(
                conversation_id=coze_conversation_id, chat_id=chat_id, tool_outputs=outputs
            )

        def make_turn(conv: ConversationRecord, user: MessageRecord | None, answer: MessageRecord) -> Turn:
            return Turn(self.env, conv, None, answer, opener)

        request = TurnRequest(
            identity=identity,
            conversation_id=conversation_id,
            content="",
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
        return await self._begin(request, question=None, make_turn=make_turn)

    async def find_repeat(self, identity: Identity, key: str | None, digest: str) -> TurnHandle | None:
        """The turn an earlier request with this Idempotency-Key started, if any (within a day).
        Raises when the key came with a different request."""
        if not key:
            return None
        owner = identity.owner
        starting = self._starting.get((owner, key))
        if starting is not None:
            try:
                return replace(await asyncio.shield(starting), repeated=True)
            except Exception:  # that start failed or lost the key to another instance: ask the store
                log.debug("the concurrent start with this Idempotency-Key did not finish; asking the store")
        async with self.db.read() as conn:
            found = await conn.run_sync(find_idempotent, owner=owner, key=key)
            if found is None:
                return None
            if found.fingerprint != digest:
                raise IdempotencyKeyReusedError(
                    "this Idempotency-Key was already used for a different request; use a new key"
                )
            conversation = await repo.get_conversation(
                conn, owner=owner, conversation_id=found.conversation_id
            )
            answer = await repo.get_message(conn, message_id=found.message_id)
        if conversation is None or answer is None:  # deleted since: the key no longer means anything
            return None
        return TurnHandle(answer, conversation, None, repeated=True)

    async def _begin(
        self,
        request: TurnRequest,
        *,
        question: str | None,
        make_turn: TurnFactory,
        check: Callable[[ConversationRecord], None] | None = None,
    ) -> TurnHandle:
        owner, key = request.identity.owner, request.idempotency_key
        repeat = await self.find_repeat(request.identity, key, request.fingerprint)
        if repeat is not None:
            return repeat
        starting: asyncio.Future[TurnHandle] | None = None
        if key:
            # A concurrent request with this key may have begun while we looked: follow it instead.
            while (owner, key) in self._starting:
                repeat = await self.find_repeat(request.identity, key, request.fingerprint)
                if repeat is not None:
                    return repeat
            starting = asyncio.get_running_loop().create_future()
            self._starting[(owner, key)] = starting
        ticket = None
        try:
            # Only a new turn is counted: a repeat of a request re-attaches for free (above).
            ticket = await self.limits.admit_turn(request.identity)
            handle = await self._begin_new(request, question, make_turn, check, ticket)
        except _Repeated:
            self.limits.give_back(ticket)
            self._forget_start(owner, key, starting, None)
            repeat = await self.find_repeat(request.identity, key, request.fingerprint)
            if repeat is None:
                raise TurnInProgressError(BUSY_MESSAGE) from None
            return repeat
        except BaseException as exc:
            self.limits.give_back(ticket)
            self._forget_start(owner, key, starting, exc)
            raise
        self._forget_start(owner, key, starting, handle)
        return handle

    def _forget_start(
        self,
        owner: str,
        key: str | None,
        starting: asyncio.Future[TurnHandle] | None,
        outcome: TurnHandle | BaseException | None,
    ) -> None:
        if key is None or starting is None:
            return
        if self._starting.get((owner, key)) is starting:
            del self._starting[(owner, key)]
        if isinstance(outcome, TurnHandle):
            starting.set_result(outcome)
        else:
            starting.set_exception(outcome if isinstance(outcome, Exception) else _Repeated())
            starting.exception()  # retrieved: nobody may be waiting for it

    async def _begin_new(
        self,
        request: TurnRequest,
        question: str | None,
        make_turn: TurnFactory,
        check: Callable[[ConversationRecord], None] | None,
        ticket: TurnTicket | None = None,
    ) -> TurnHandle:
        owner, key = request.identity.owner, request.idempotency_key
        conversation_id = request.conversation_id
        self._claim(conversation_id)
        carried = request.attachments if question is not None else ()  # a regenerate's are linked already
        new = turn_store.NewTurn(
            owner=owner,
            conversation_id=conversation_id,
            question=question,
            title=title_from(question or (carried[0].name if carried else "")),
            runner=self.runner,
            lease=self.lease,
            idempotency_key=key,
            fingerprint=request.fingerprint,
            check=check,
            new_conversation=request.new_conversation,
            branch=request.branch,
            attachment_ids=tuple(a.id for a in carried),
        )
        try:
            try:
                begun = await self._store_start(new)
            except turn_store.ConversationTaken as taken:
                raise _Repeated if taken.repeated else TurnInProgressError(BUSY_MESSAGE) from None
            except turn_store.ConversationGone:
                raise NotFoundError("no such conversation", code="conversation_not_found") from None
            except turn_store.BranchPointGone:
                raise NotFoundError("no such message", code="message_not_found") from None
            except AttachmentsTaken as taken:
                message = f"the attachment {taken.ids[0]} was sent with another message already"
                raise ConflictError(f"{message}; upload it again", code="attachment_already_sent") from None
            conversation, user, answer = begun.conversation, begun.user, begun.answer
            if begun.orphans:  # a dead instance's chat may still run on Coze: stop it before asking again
                await self.keeper.cancel_chats(begun.orphans)
            running = make_turn(conversation, user, answer)
            running.made_conversation = new.new_conversation is not None
            self.limits.hold(answer.id, ticket)
        except BaseException:
            self._by_conversation.pop(conversation_id, None)
            raise
        self._by_conversation[conversation_id] = running
        self._by_message[answer.id] = running
        running.start()
        await running.accepted()  # 409 (Retry-After) when Coze says the conversation is still busy
        return TurnHandle(answer, conversation, user.id if user else None)

    async def _store_start(self, new: turn_store.NewTurn) -> turn_store.BegunTurn:
        """Store the turn's start. A caller cancelled meanwhile (a shutdown) leaves nothing behind:
        once the write is done, what it stored is removed again."""
        write = asyncio.ensure_future(self.db.write(lambda conn: turn_store.begin_turn(conn, turn=new)))
        try:
            return await asyncio.shield(write)
        except asyncio.CancelledError:
            write.add_done_callback(partial(self._discard_abandoned, new.new_conversation is not None))
            raise

    def _discard_abandoned(
        self, made_conversation: bool, write: asyncio.Future[turn_store.BegunTurn]
    ) -> None:
        if write.cancelled() or write.exception() is not None:
            return
        begun = write.result()
        user_id = begun.user.id if begun.user else None
        discard = partial(turn_store.discard_turn, answer_id=begun.answer.id, user_message_id=user_id)
        task = asyncio.ensure_future(self.db.write(partial(discard, with_conversation=made_conversation)))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _claim(self, conversation_id: str) -> None:
        if conversation_id in self._by_conversation:
            raise TurnInProgressError(BUSY_MESSAGE)
        # Reserve the slot before the first await so two sends cannot both pass the check.
        self._by_conversation[conversation_id] = None

    def _release(self, turn: Turn) -> None:
        self.limits.turn_ended(turn.id)
        if self._by_conversation.get(turn.conversation.id) is turn:
            del self._by_conversation[turn.conversation.id]
        if self._by_message.get(turn.id) is turn:
            del self._by_message[turn.id]

    async def _owned_conversation(self, owner: str, conversation_id: str) -> ConversationRecord:
        conversation = await self.db.read_op(
            lambda conn: repo.find_conversation(conn, owner=owner, conversation_id=conversation_id)
        )
        if conversation is None:
            raise NotFoundError("no such conversation", code="conversation_not_found")
        return conversation

    # --- watching -----------------------------------------------------------------------------

    async def owned_answer(self, identity: Identity, message_id: str) -> TurnHandle:
        """An answer of the caller's, to watch (404 when it is not theirs or not an answer)."""
        return await self.follower.owned_answer(identity, message_id)

    async def watch(
        self,
        handle: TurnHandle,
        *,
        after: int = 0,
        keepalive: float | None = None,
        cancel_on_exit: bool = False,
        seen: int = 0,
        join: bool = True,
    ) -> AsyncIterator[Entry | Keepalive]:
        """The turn's events after ``after``, then live to its end, wherever it runs. With
        ``cancel_on_exit``, a watcher that leaves before the end (its client went away) stops it.
        ``seen``: the number the client saw (it reads from 0 to render); stand-ins are numbered past it.
        ``join=False``: waiting deltas are not joined (see :meth:`TurnLog.follow`)."""
        ended = False
        try:
            async for item in self.follower.follow(handle, after, keepalive, seen=seen, join=join):
                if not isinstance(item, Keepalive) and is_terminal(item[1]):
                    ended = True
                yield item
        finally:
            if cancel_on_exit and not ended:
                self.stop_turn(handle, "client_disconnected", "the client went away")

    async def result(self, handle: TurnHandle) -> TurnResult:
        """Wait for the turn's end; the stored answer and how the turn ended."""
        return await self.follower.result(handle)

    async def _sweep_conversation(self, conversation_id: str) -> int:
        return await self.keeper.sweep(lease=self.lease, conversation_id=conversation_id)

    # --- stopping -----------------------------------------------------------------------------

    async def cancel(self, identity: Identity, conversation_id: str) -> bool:
        """Stop the running turn of a conversation, wherever it runs. False when none was running."""
        conversation = await self._owned_conversation(identity.owner, conversation_id)
        turn = self._by_conversation.get(conversation_id)
        if isinstance(turn, Turn):
            turn.cancel()
            return True
        async with self.db.read() as conn:
            live = await conn.run_sync(turn_store.running_answer, conversation_id=conversation_id)
        if live is None:
            return False
        return await self._stop_elsewhere(live, conversation)

    async def _stop_elsewhere(self, live: MessageRecord, conversation: ConversationRecord) -> bool:
        if not turn_store.is_alive(live, self.lease):
            return await self._sweep_conversation(conversation.id) > 0
        if live.runner and await self.logs.request_cancel(live.runner, live.id):
            return True
        # No shared log, or its instance did not answer: ask Coze to cancel the chat; the instance's
        # stream then ends as canceled and stores the partial answer as interrupted.
        if live.upstream_chat_id and conversation.coze_conversation_id:
            return await cancel_coze_chat(self.coze, conversation.coze_conversation_id, live.upstream_chat_id)
        return False

    def stop_turn(self, handle: TurnHandle, code: str, message: str) -> None:
        """Stop one turn now (its client is gone, or a deadline struck), stored as interrupted."""
        turn = self._by_message.get(handle.answer.id)
        if turn is not None:
            turn.cancel(code, message)
            return
        # Running elsewhere (a repeat re-attached on another instance): stop it in the background.
        task = asyncio.get_running_loop().create_task(self._stop_remote(handle))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _stop_remote(self, handle: TurnHandle) -> None:
        async with self.db.read() as conn:
            live = await repo.get_message(conn, message_id=handle.answer.id)
        if live is not None and live.status == "streaming":
            await self._stop_elsewhere(live, handle.conversation)

    def _cancel_requested(self, message_id: str) -> None:
        """Another instance asks to stop a turn this one runs (its Stop button)."""
        turn = self._by_message.get(message_id)
        if turn is not None:
            turn.cancel()

    def is_running(self, conversation_id: str) -> bool:
        """Whether this instance runs (or is starting) a turn in the conversation."""
        return conversation_id in self._by_conversation

    async def running_turn(self, conversation_id: str) -> tuple[str, str | None] | None:
        """The (answer id, question id) of the turn running in the conversation, by this or another
        live instance; the question id is known only here."""
        turn = self._by_conversation.get(conversation_id)
        if isinstance(turn, Turn):
            return turn.id, turn.user_message.id if turn.user_message else None
        async with self.db.read() as conn:
            live = await conn.run_sync(turn_store.running_answer, conversation_id=conversation_id)
        if live is None or not turn_store.is_alive(live, self.lease):
            return None
        return live.id, None
