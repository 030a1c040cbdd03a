"""The chat service, one for every edge: lock the conversation, store the user message, open the
upstream stream (see turn.py for how a running turn is pumped), store the answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta

from botport.bots import BotRegistry
from botport.chat.turn import StreamOpener, Turn
from botport.errors import (
    BadRequestError,
    BotportError,
    NotFoundError,
    TurnInProgressError,
    UpstreamError,
)
from botport.identity import Identity
from botport.store import repository as repo
from botport.store.db import Database
from botport.store.records import ConversationRecord, MessageRecord, MessageStatus
from botport.upstream.client import CozeClient
from botport.upstream.models import EnterMessage, ToolOutput
from botport.upstream.stream import ChatStream

log = logging.getLogger(__name__)

_FREE = object()
BUSY_MESSAGE = "an answer is still being written in this conversation; wait for it or stop it first"

# Coze takes at most 100 additional_messages: the stored turns replayed, and the question.
MAX_REPLAYED_TURNS = 99


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """Who asks what in which conversation."""

    identity: Identity
    conversation_id: str
    content: str
    # Earlier (role, content) turns ("user" | "assistant"), sent before the question only while the
    # conversation has no Coze conversation yet (an OpenAI client's history); then Coze keeps context.
    earlier: tuple[tuple[str, str], ...] = ()


class ChatService:
    def __init__(
        self,
        *,
        db: Database,
        coze: CozeClient,
        bots: BotRegistry,
        coze_user_id: Callable[[Identity], str],
        turn_timeout: float,
        max_message_chars: int,
    ) -> None:
        self.db = db
        self.coze = coze
        self.bots = bots
        self.coze_user_id = coze_user_id
        self.turn_timeout = turn_timeout
        self.max_message_chars = max_message_chars
        # conversation id -> its running turn (None while the turn is being set up)
        self._running: dict[str, Turn | None] = {}
        # A 'streaming' row older than this cannot belong to a live turn on any instance.
        self._live_window = timedelta(seconds=turn_timeout + 30)

    # --- starting -----------------------------------------------------------------------------

    async def start_turn(self, request: TurnRequest) -> Turn:
        """Validate, lock the conversation and store the user message. Raises before anything is
        stored when the request is wrong (4xx), so nothing is half-written."""
        content = request.content.strip()
        if not content:
            raise BadRequestError("the message is empty", code="empty_message")
        if len(content) > self.max_message_chars:
            raise BadRequestError(
                f"the message has {len(content)} characters; the limit is {self.max_message_chars}",
                code="message_too_long",
                status=413,
            )
        owner = request.identity.owner
        conversation = await self._owned_conversation(owner, request.conversation_id)
        bot = self.bots.get(conversation.bot)
        self._claim(conversation.id)
        try:
            async with self.db.connect() as conn:
                if await repo.has_live_turn(conn, conversation.id, younger_than=self._live_window):
                    raise TurnInProgressError(BUSY_MESSAGE)
                user_message = await repo.add_message(conn, conversation.id, "user", content)
                answer = await repo.add_message(conn, conversation.id, "assistant", "", status="streaming")
                if conversation.title == "":
                    await repo.rename_conversation(conn, owner, conversation.id, title_from(content))
        except BaseException:
            self._running.pop(conversation.id, None)
            raise

        earlier = () if conversation.coze_conversation_id else request.earlier
        context = [_enter(role, text) for role, text in earlier]

        def opener() -> AbstractAsyncContextManager[ChatStream]:
            return self.coze.stream_chat(
                bot_id=bot.bot_id,
                user_id=self.coze_user_id(request.identity),
                messages=[*context, EnterMessage.user_text(content)],
                conversation_id=conversation.coze_conversation_id,
            )

        async def replay() -> StreamOpener:
            """Coze lost the conversation (expired, deleted, or the demo emulator restarted): start a
            new one carrying the stored turns, so the bot keeps the context."""
            async with self.db.read() as conn:
                stored = await repo.list_messages(conn, conversation.id)
            turns = [
                _enter(m.role, m.content)
                for m in stored
                if m.status == "completed" and m.content and m.id != user_message.id
            ][-MAX_REPLAYED_TURNS:]

            def fresh() -> AbstractAsyncContextManager[ChatStream]:
                return self.coze.stream_chat(
                    bot_id=bot.bot_id,
                    user_id=self.coze_user_id(request.identity),
                    messages=[*turns, EnterMessage.user_text(content)],
                )

            return fresh

        has_upstream = conversation.coze_conversation_id is not None
        turn = Turn(self, conversation, user_message, answer, opener, replay if has_upstream else None)
        self._running[conversation.id] = turn
        return turn

    async def continue_with_tool_outputs(
        self, identity: Identity, conversation_id: str, chat_id: str, outputs: list[ToolOutput]
    ) -> Turn:
        """Resume a chat paused in ``requires_action`` with the caller's tool results."""
        conversation = await self._owned_conversation(identity.owner, conversation_id)
        if not conversation.coze_conversation_id:
            raise BadRequestError("this conversation has no paused chat", code="no_paused_chat")
        self._claim(conversation.id)
        try:
            async with self.db.connect() as conn:
                if await repo.has_live_turn(conn, conversation.id, younger_than=self._live_window):
                    raise TurnInProgressError(BUSY_MESSAGE)
                answer = await repo.add_message(conn, conversation.id, "assistant", "", status="streaming")
        except BaseException:
            self._running.pop(conversation.id, None)
            raise
        coze_conversation_id = conversation.coze_conversation_id

        def opener() -> AbstractAsyncContextManager[ChatStream]:
            return self.coze.stream_submit_tool_outputs(
                conversation_id=coze_conversation_id, chat_id=chat_id, tool_outputs=outputs
            )

        turn = Turn(self, conversation, None, answer, opener)
        self._running[conversation.id] = turn
        return turn

    def _claim(self, conversation_id: str) -> None:
        running = self._running.get(conversation_id, _FREE)
        if running is not _FREE and not (isinstance(running, Turn) and running.is_stale):
            raise TurnInProgressError(BUSY_MESSAGE)
        # Reserve the slot before the first await so two sends cannot both pass the check.
        self._running[conversation_id] = None

    async def _owned_conversation(self, owner: str, conversation_id: str) -> ConversationRecord:
        async with self.db.read() as conn:
            conversation = await repo.get_conversation(conn, owner, conversation_id)
        if conversation is None:
            raise NotFoundError("no such conversation", code="conversation_not_found")
        return conversation

    # --- running ------------------------------------------------------------------------------

    async def cancel(self, identity: Identity, conversation_id: str) -> bool:
        """Stop the running turn of a conversation. False when nothing was running."""
        conversation = await self._owned_conversation(identity.owner, conversation_id)
        turn = self._running.get(conversation_id)
        if turn is not None:
            turn.cancel()
            return True
        # Perhaps another instance runs it: ask Coze to cancel the chat; that instance's stream then
        # ends as canceled and stores the partial answer as interrupted.
        async with self.db.read() as conn:
            live = await repo.find_live_answer(conn, conversation_id, younger_than=self._live_window)
        if live is None or not (live.upstream_chat_id and conversation.coze_conversation_id):
            return False
        try:
            async with asyncio.timeout(5):
                await self.coze.cancel_chat(
                    conversation_id=conversation.coze_conversation_id, chat_id=live.upstream_chat_id
                )
        except (UpstreamError, TimeoutError) as exc:
            log.info("cancel of chat %s upstream did not go through: %s", live.upstream_chat_id, exc)
            return False
        return True

    def is_running(self, conversation_id: str) -> bool:
        return conversation_id in self._running

    async def run_to_end(self, turn: Turn) -> MessageRecord:
        """Serve a non-streaming request from the same upstream stream: consume, then read back."""
        async for _ in turn.events():
            pass
        async with self.db.read() as conn:
            message = await repo.get_message(conn, turn.answer.id)
        assert message is not None
        return message

    # --- storing ------------------------------------------------------------------------------

    async def remember_upstream_ids(self, turn: Turn) -> None:
        """Keep Coze's ids as soon as the chat starts, not only when it ends: the conversation id
        carries the context across turns and restarts, and the chat id lets another instance behind
        the same load balancer stop this turn."""
        state = turn.state
        new_id = state.coze_conversation_id
        async with self.db.connect() as conn:
            await repo.set_upstream_chat_id(conn, turn.answer.id, state.chat_id)
            if new_id and new_id != turn.conversation.coze_conversation_id:
                await repo.set_coze_conversation_id(conn, turn.conversation.id, new_id)

    async def store_outcome(
        self, turn: Turn, *, status: MessageStatus, error: BotportError | None = None
    ) -> None:
        state = turn.state
        fields: repo.MessageFields = {
            "content": state.content,
            "reasoning": state.reasoning,
            "status": status,
            "follow_ups": list(state.follow_ups),
            "upstream_chat_id": state.chat_id,
        }
        if state.usage is not None:
            fields["input_tokens"] = state.usage.input_tokens
            fields["output_tokens"] = state.usage.output_tokens
            fields["total_tokens"] = state.usage.total_tokens
        if state.tool_calls:
            fields["tool_calls"] = [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in state.tool_calls
            ]
        if error is not None:
            fields["error_code"] = error.code
            fields["error_message"] = error.message
            logid = getattr(error, "logid", None)
            if logid:
                fields["logid"] = logid
        try:
            async with self.db.connect() as conn:
                await repo.update_message(conn, turn.answer.id, **fields)
                await repo.touch_conversation(conn, turn.conversation.id)
        finally:
            if self._running.get(turn.conversation.id) is turn:
                del self._running[turn.conversation.id]

    async def cancel_upstream(self, turn: Turn) -> None:
        """Best effort: tell Coze to stop too, so the bot does not keep working (and billing)."""
        state = turn.state
        if not (state.chat_id and state.coze_conversation_id) or state.finished or state.canceled:
            return
        try:
            async with asyncio.timeout(5):
                await self.coze.cancel_chat(conversation_id=state.coze_conversation_id, chat_id=state.chat_id)
        except Exception as exc:  # best effort, also while shutting down (client already closed)
            log.info("cancel of chat %s upstream did not go through: %s", state.chat_id, exc)


def _enter(role: str, content: str) -> EnterMessage:
    return EnterMessage.assistant_text(content) if role == "assistant" else EnterMessage.user_text(content)


def title_from(content: str, limit: int = 60) -> str:
    """A conversation title from its first question: one line, at most ``limit`` characters."""
    line = " ".join(content.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
