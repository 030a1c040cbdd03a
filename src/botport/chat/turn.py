"""One turn, run as a server-side job: it reads the Coze stream into the turn's event log, and it
stores its end (completed, failed, interrupted) whatever happens to the request that started it.

Only :meth:`Turn.cancel` (Stop, a client gone from an edge that cannot come back, a shutdown) or the
turn deadline ends it early. Watchers follow :attr:`Turn.log` from any sequence number; none of
them owns the turn. While it runs, :class:`botport.chat.keeper.TurnKeeper` checkpoints what it has
(:meth:`Turn.pending_checkpoint`) at a bounded interval; nothing on the per-delta path waits on the
database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal

from botport.chat.eventlog import EventLogs, TurnLog
from botport.chat.events import (
    DomainEvent,
    FollowUps,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
)
from botport.chat.translate import TurnState
from botport.errors import (
    BotportError,
    ChatFailedError,
    ConversationBusyError,
    ConversationNotFoundError,
    CozeAPIError,
    RateLimitedError,
    TurnInProgressError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamOverloadedError,
    UpstreamTimeout,
)
from botport.store import repository as repo
from botport.store import turns as turn_store
from botport.store.db import Database
from botport.store.records import ConversationRecord, MessageRecord, MessageStatus
from botport.upstream.client import CozeClient
from botport.upstream.stream import ChatStream

log = logging.getLogger(__name__)

StreamOpener = Callable[[], AbstractAsyncContextManager[ChatStream]]

UPSTREAM_CANCEL_TIMEOUT = 5.0
CancelOutcome = Literal["cancelled", "refused", "unreachable"]
BUSY_RETRY_AFTER = 2  # seconds: Coze still runs a chat in the conversation (it ends or is cancelled soon)
SHUTDOWN = ("shutdown", "the server stopped before the answer was complete")


@dataclass(slots=True)
class TurnEnv:
    """What every turn of one service shares."""

    db: Database
    coze: CozeClient
    logs: EventLogs
    turn_timeout: float
    poke_keeper: Callable[[], None]  # a turn learnt Coze's ids: checkpoint soon
    release: Callable[[Turn], None]  # the turn has ended: free its conversation
    cancel_later: Callable[[str, str], None]  # ask Coze again to cancel a chat (conversation, chat)


class Turn:
    """One running turn. :meth:`start` it once; it always ends its log and stores its outcome."""

    def __init__(
        self,
        env: TurnEnv,
        conversation: ConversationRecord,
        user_message: MessageRecord | None,
        answer: MessageRecord,
        opener: StreamOpener,
        replay: Callable[[], Awaitable[StreamOpener]] | None = None,
    ) -> None:
        self.env = env
        self.conversation = conversation
        self.user_message = user_message
        self.answer = answer
        self.state = TurnState(coze_conversation_id=conversation.coze_conversation_id)
        self.log: TurnLog = env.logs.open(answer.id)
        self._opener = opener
        self._replay = replay
        self.made_conversation = False  # its start created the conversation: a refusal removes it
        self._task: asyncio.Task[None] | None = None
        self._accepted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop: tuple[str, str] | None = None  # (code, message) of a cancel
        self._coze_ended = False  # Coze said the chat failed: nothing to cancel there
        self._ending = False  # the outcome is being stored
        self.started_at = time.monotonic()
        self._saved: tuple[int, int, str | None, str | None] = (0, 0, None, conversation.coze_conversation_id)
        self._append(self.started)

    @property
    def id(self) -> str:
        return self.answer.id

    @property
    def started(self) -> TurnStarted:
        return TurnStarted(
            conversation_id=self.conversation.id,
            user_message_id=self.user_message.id if self.user_message else "",
            message_id=self.answer.id,
            bot=self.conversation.bot,
        )

    @property
    def ended(self) -> bool:
        return self.log.ended

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"turn-{self.answer.id}")
        self._task.add_done_callback(self._after_task)

    def _after_task(self, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never ran _run: end the turn anyway.
        if not self.ended and task.cancelled():
            code, message = self._stop or SHUTDOWN
            asyncio.get_running_loop().create_task(self._end_interrupted(code, message))

    async def accepted(self) -> None:
        """Wait until Coze has taken the turn (its stream is open) or the turn has ended.

        Raises :class:`TurnInProgressError` (409, with ``retry_after``) when Coze refused it because
        the conversation was still busy there; nothing of the turn is stored then.
        """
        await asyncio.shield(self._accepted)

    def cancel(self, code: str = "cancelled", message: str = "stopped by the user") -> None:
        """End the turn now; its partial answer is stored as ``interrupted`` with ``code``."""
        if self._stop is None:
            self._stop = (code, message)
        # Once the turn is storing its end, a later cancel (a Stop, then a shutdown) must not cut it.
        if self._task is not None and not self._task.done() and not self._ending:
            self._task.cancel()

    async def wait(self) -> None:
        """Until the turn has ended (its outcome stored, its log ended)."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)

    # --- checkpoints (called by the keeper) -------------------------------------------------------

    def pending_checkpoint(self, *, ids_only: bool = False) -> turn_store.Checkpoint | None:
        """What changed since the last checkpoint; None: nothing new (with ``ids_only``: no new
        Coze ids — new text alone waits for the next full checkpoint)."""
        state = self.state
        now = (len(state.content), len(state.reasoning), state.chat_id, state.coze_conversation_id)
        if now == self._saved or self.ended:
            return None
        if ids_only and now[2:] == self._saved[2:]:
            return None
        return turn_store.Checkpoint(
            message_id=self.answer.id,
            conversation_id=self.conversation.id,
            content=state.content,
            reasoning=state.reasoning,
            upstream_chat_id=state.chat_id,
            coze_conversation_id=state.coze_conversation_id
            if state.coze_conversation_id != self.conversation.coze_conversation_id
            else None,
        )

    def checkpointed(self, point: turn_store.Checkpoint) -> None:
        self._saved = (
            len(point.content),
            len(point.reasoning),
            point.upstream_chat_id,
            point.coze_conversation_id or self._saved[3],
        )

    # --- running ----------------------------------------------------------------------------------

    def _append(self, event: DomainEvent) -> None:
        seq = self.log.append(event)
        self.env.logs.appended(self.log, seq, event)

    async def _run(self) -> None:
        try:
            try:
                async with asyncio.timeout(self.env.turn_timeout):
                    await self._consume_or_replay()
            except TimeoutError:
                raise UpstreamTimeout(f"the turn took longer than {self.env.turn_timeout:g} s") from None
            await self._finish_ok()
        except asyncio.CancelledError:
            code, message = self._stop or SHUTDOWN
            await self._end_interrupted(code, message)
            raise
        except (ConversationBusyError, UpstreamOverloadedError) as exc:
            if self._accepted.done():
                await self._end_failed(exc)
            else:
                await self._refuse(exc)
        except BotportError as exc:
            await self._end_failed(exc)
        except Exception as exc:  # a bug must still end the turn cleanly and be visible in the log
            log.exception("turn %s crashed", self.answer.id)
            await self._end_failed(BotportError(f"internal error: {type(exc).__name__}"))
        finally:
            if not self._accepted.done():
                self._accepted.set_result(None)

    async def _consume_or_replay(self) -> None:
        try:
            await self._consume(self._opener)
        except ConversationNotFoundError:
            if self._replay is None or self.state.chat_id is not None:
                raise
            log.warning(
                "Coze no longer knows conversation %s; starting a new one from the stored turns",
                self.conversation.coze_conversation_id,
            )
            await self._consume(await self._replay())

    async def _consume(self, opener: StreamOpener) -> None:
        async with opener() as stream:
            if not self._accepted.done():
                self._accepted.set_result(None)
            async for upstream_event in stream:
                knew_chat = self.state.chat_id is not None
                for event in self.state.apply(upstream_event):
                    self._append(event)
                if not knew_chat and self.state.chat_id:
                    self.env.poke_keeper()

    # --- ending -----------------------------------------------------------------------------------

    async def _finish_ok(self) -> None:
        state = self.state
        if state.canceled:  # Coze ended the chat as canceled (a Stop sent through Coze by another instance)
            await self._end_interrupted("cancelled", "the chat was stopped")
            return
        if not state.finished:
            await self._end_failed(UpstreamError("the upstream stream ended before the answer finished"))
            return
        status: Literal["completed", "requires_action"] = (
            "requires_action" if state.requires_action else "completed"
        )
        tail: list[DomainEvent] = []
        if state.follow_ups:
            tail.append(FollowUps(tuple(state.follow_ups)))
        tail.append(TurnCompleted(message_id=self.answer.id, status=status, usage=state.usage or Usage()))
        await self._end(status, None, tail)

    async def _end_failed(self, exc: BotportError) -> None:
        log.warning("turn %s failed: %s", self.answer.id, exc)
        self._coze_ended = isinstance(exc, ChatFailedError)
        failed = TurnFailed(
            message_id=self.answer.id,
            status="failed",
            code=exc.code,
            message=exc.message,
            http_status=exc.status,
            upstream_code=getattr(exc, "upstream_code", None),
            logid=getattr(exc, "logid", None),
            retryable=self.state.chat_id is None and _transient(exc),
        )
        await self._end("failed", exc, [failed])

    async def _end_interrupted(self, code: str, message: str) -> None:
        interrupted = TurnFailed(
            message_id=self.answer.id, status="interrupted", code=code, message=message, http_status=499
        )
        await self._end("interrupted", BotportError(message, code=code), [interrupted])

    async def _end(self, status: MessageStatus, error: BotportError | None, tail: list[DomainEvent]) -> None:
        """Store the outcome (and stop the Coze chat if Coze did not end it), then end the log: a
        watcher that sees the end can rely on the stored answer."""
        if self.ended or self._ending:
            return
        self._ending = True
        try:
            await asyncio.gather(
                self._store(status, error, last_seq=self.log.last_seq + len(tail)),
                self._cancel_upstream(),
            )
        except Exception:  # the database is down: the watchers still get the end
            log.exception("turn %s: its outcome could not be stored", self.answer.id)
        finally:
            for event in tail:
                self._append(event)
            self.env.release(self)

    async def _store(self, status: MessageStatus, error: BotportError | None, *, last_seq: int) -> None:
        state = self.state
        fields: repo.MessageFields = {
            "content": state.content,
            "reasoning": state.reasoning,
            "status": status,
            "follow_ups": list(state.follow_ups),
            "upstream_chat_id": state.chat_id,
            "upstream_message_id": state.answer_message_id,
            "last_seq": last_seq,
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
        fields["coze_conversation_id"] = state.coze_conversation_id
        new_coze_id = state.coze_conversation_id
        if new_coze_id == self._saved[3]:  # already written by a checkpoint
            new_coze_id = None
        answer = self.answer
        kind, _, owner_id = self.conversation.owner.partition(":")
        key_id = owner_id if kind == "key" else None
        await self.env.db.write(
            lambda conn: turn_store.end_turn(
                conn, answer=answer, fields=dict(fields), coze_conversation_id=new_coze_id, key_id=key_id
            )
        )

    async def _cancel_upstream(self) -> None:
        """The turn ends but Coze did not say the chat ended (Stop, a cut stream, a timeout, a
        shutdown): cancel it, so the bot stops working (and billing) and the conversation is free."""
        state = self.state
        ended_there = state.finished or state.canceled or self._coze_ended
        if ended_there or not (state.chat_id and state.coze_conversation_id):
            return
        outcome = await try_cancel_coze_chat(self.env.coze, state.coze_conversation_id, state.chat_id)
        if outcome == "unreachable":  # Coze goes on with it, and its conversation stays busy there
            self.env.cancel_later(state.coze_conversation_id, state.chat_id)

    async def _refuse(self, exc: ConversationBusyError | UpstreamOverloadedError) -> None:
        """Coze still runs a chat in this conversation (409), or every connection to Coze is in use
        (503): nothing was asked, so store nothing, and answer with Retry-After."""
        user_id = self.user_message.id if self.user_message else None
        try:
            await self.env.db.write(
                lambda conn: turn_store.discard_turn(
                    conn,
                    answer_id=self.answer.id,
                    user_message_id=user_id,
                    with_conversation=self.made_conversation,
                )
            )
        except Exception:
            log.exception("turn %s: could not discard the refused turn", self.answer.id)
        refusal: BotportError = exc
        if isinstance(exc, ConversationBusyError):
            refusal = TurnInProgressError(
                "Coze is still finishing an earlier answer in this conversation; try again in a moment",
                code="conversation_busy",
                retry_after=BUSY_RETRY_AFTER,
            )
        self._append(
            TurnFailed(
                message_id=self.answer.id,
                status="failed",
                code=refusal.code,
                message=refusal.message,
                http_status=refusal.status,
                upstream_code=exc.upstream_code,
                logid=exc.logid,
                retryable=True,
            )
        )
        self.env.release(self)
        self._accepted.set_exception(refusal)


def _transient(exc: BotportError) -> bool:
    """Errors that a later try may not meet (the network, an overloaded Coze, a rate limit)."""
    if isinstance(exc, UpstreamHTTPError):
        return (exc.http_status or 0) >= 500
    return isinstance(exc, UpstreamConnectionError | UpstreamTimeout | RateLimitedError)


async def cancel_coze_chat(coze: CozeClient, conversation_id: str, chat_id: str) -> bool:
    """Best effort, bounded: also while shutting down. True when Coze confirmed the cancel."""
    return await try_cancel_coze_chat(coze, conversation_id, chat_id) == "cancelled"


async def try_cancel_coze_chat(coze: CozeClient, conversation_id: str, chat_id: str) -> CancelOutcome:
    """Ask Coze to cancel a chat: ``cancelled``, ``refused`` (Coze answered no: the chat had ended)
    or ``unreachable`` (no answer: the network, a timeout, a 5xx; worth asking again later)."""
    try:
        async with asyncio.timeout(UPSTREAM_CANCEL_TIMEOUT):
            await coze.cancel_chat(conversation_id=conversation_id, chat_id=chat_id)
    except RateLimitedError as exc:
        log.info("cancel of chat %s upstream must wait: %s", chat_id, exc)
        return "unreachable"
    except (CozeAPIError, ChatFailedError) as exc:
        log.info("cancel of chat %s upstream refused: %s", chat_id, exc)
        return "refused"
    except Exception as exc:
        log.info("cancel of chat %s upstream did not go through: %s", chat_id, exc)
        return "unreachable"
    return "cancelled"
