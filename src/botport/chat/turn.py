"""One running turn: a *pump* task reads the upstream stream into a queue, the edge reads the queue.

So a cancel (from another request) or a client disconnect stops the pump at once, and the outcome is
always stored, whichever edge started the turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Literal, Protocol

from botport.chat.events import (
    DomainEvent,
    FollowUps,
    ReasoningDelta,
    TextDelta,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
)
from botport.chat.translate import TurnState
from botport.errors import BotportError, ConversationNotFoundError, UpstreamError, UpstreamTimeout
from botport.store.records import ConversationRecord, MessageRecord, MessageStatus
from botport.upstream.stream import ChatStream

log = logging.getLogger(__name__)

KEEPALIVE = object()  # yielded by Turn.events() after a quiet spell, for SSE keep-alive comments
_END = object()

StreamOpener = Callable[[], AbstractAsyncContextManager[ChatStream]]


class TurnHost(Protocol):
    """What a turn needs from the service that started it (storage and the upstream cancel)."""

    turn_timeout: float

    async def remember_upstream_ids(self, turn: Turn) -> None: ...

    async def store_outcome(
        self, turn: Turn, *, status: MessageStatus, error: BotportError | None = None
    ) -> None: ...

    async def cancel_upstream(self, turn: Turn) -> None: ...


class Turn:
    """One running turn. Iterate :meth:`events` once; it always stores the outcome."""

    def __init__(
        self,
        service: TurnHost,
        conversation: ConversationRecord,
        user_message: MessageRecord | None,
        answer: MessageRecord,
        opener: StreamOpener,
        replay: Callable[[], Awaitable[StreamOpener]] | None = None,
    ) -> None:
        self.service = service
        self.conversation = conversation
        self.user_message = user_message
        self.answer = answer
        self.state = TurnState(coze_conversation_id=conversation.coze_conversation_id)
        self._opener = opener
        self._replay = replay
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None
        self._cancelled = False
        self._outcome: DomainEvent | None = None
        self._created = time.monotonic()

    @property
    def is_stale(self) -> bool:
        """A turn never iterated (its client vanished before the response started) must not block
        the conversation forever."""
        return self._pump is None and time.monotonic() - self._created > 30

    @property
    def started(self) -> TurnStarted:
        return TurnStarted(
            conversation_id=self.conversation.id,
            user_message_id=self.user_message.id if self.user_message else "",
            message_id=self.answer.id,
            bot=self.conversation.bot,
        )

    def cancel(self) -> None:
        """Stop the turn now (the Stop button); the partial answer is kept as ``interrupted``."""
        self._cancelled = True
        if self._pump is not None:
            self._pump.cancel()

    async def events(self, *, keepalive: float | None = None) -> AsyncIterator[object]:
        """Domain events, ending with TurnCompleted or TurnFailed. With ``keepalive``, yields
        :data:`KEEPALIVE` after that many quiet seconds."""
        self._pump = asyncio.create_task(self._run_pump())
        # The end marker comes from the task's completion, so it arrives however the pump ended,
        # also when it was cancelled before it ever ran.
        self._pump.add_done_callback(lambda _task: self._queue.put_nowait(_END))
        if self._cancelled:  # Stop was pressed before the answer started
            self._pump.cancel()
        held: object = None  # an item taken from the queue while merging deltas, not yet yielded
        try:
            yield self.started
            while True:
                if held is not None:
                    item, held = held, None
                else:
                    try:
                        # asyncio.timeout, not wait_for: no extra task per event on this hot path.
                        async with asyncio.timeout(keepalive):
                            item = await self._queue.get()
                    except TimeoutError:
                        yield KEEPALIVE
                        continue
                if item is _END:
                    break
                if isinstance(item, TextDelta | ReasoningDelta):
                    item, held = self._merge_queued(item)
                yield item
        finally:
            # Reached on normal end, on an error and when the consumer goes away (disconnect).
            if not self._pump.done():
                self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._pump)
            if self._outcome is None:
                if self._cancelled:
                    ending = self._finish_interrupted("cancelled", "stopped by the user")
                else:
                    ending = self._finish_interrupted("client_disconnected", "the client went away")
                await asyncio.shield(ending)

    def _merge_queued(self, first: TextDelta | ReasoningDelta) -> tuple[DomainEvent, object]:
        """Join the deltas of the same kind already waiting: a consumer that fell behind (a slow
        client, a busy server) catches up in one frame instead of many. Returns the merged delta and
        the first item of another kind taken from the queue (or None)."""
        parts = [first.text]
        other: object = None
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if type(item) is not type(first):
                other = item
                break
            assert isinstance(item, TextDelta | ReasoningDelta)
            parts.append(item.text)
        merged = first if len(parts) == 1 else type(first)("".join(parts))
        return merged, other

    async def _run_pump(self) -> None:
        try:
            async with asyncio.timeout(self.service.turn_timeout):
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
            await self._finish_ok()
        except asyncio.CancelledError:
            if self._cancelled:
                await asyncio.shield(self._finish_interrupted("cancelled", "stopped by the user"))
            raise
        except TimeoutError:
            err = UpstreamTimeout(f"the turn took longer than {self.service.turn_timeout:g} s")
            await self._finish_failed(err)
        except BotportError as exc:
            await self._finish_failed(exc)
        except Exception as exc:  # a bug must still end the turn cleanly and be visible in the log
            log.exception("turn %s crashed", self.answer.id)
            await self._finish_failed(BotportError(f"internal error: {type(exc).__name__}"))

    async def _consume(self, opener: StreamOpener) -> None:
        async with opener() as stream:
            async for upstream_event in stream:
                was_unknown = self.state.chat_id is None
                for event in self.state.apply(upstream_event):
                    self._queue.put_nowait(event)
                if was_unknown and self.state.chat_id:
                    await self.service.remember_upstream_ids(self)

    async def _finish_ok(self) -> None:
        state = self.state
        if state.canceled:
            await self._finish_interrupted("cancelled", "the chat was stopped")
            return
        if not state.finished:
            await self._finish_failed(UpstreamError("the upstream stream ended before the answer finished"))
            return
        status: Literal["completed", "requires_action"] = (
            "requires_action" if state.requires_action else "completed"
        )
        await self.service.store_outcome(self, status=status)
        if state.follow_ups:
            self._queue.put_nowait(FollowUps(tuple(state.follow_ups)))
        self._outcome = TurnCompleted(message_id=self.answer.id, status=status, usage=state.usage or Usage())
        self._queue.put_nowait(self._outcome)

    async def _finish_failed(self, exc: BotportError) -> None:
        upstream_code = getattr(exc, "upstream_code", None)
        logid = getattr(exc, "logid", None)
        await self.service.store_outcome(self, status="failed", error=exc)
        log.warning("turn %s failed: %s", self.answer.id, exc)
        self._outcome = TurnFailed(
            message_id=self.answer.id,
            status="failed",
            code=exc.code,
            message=exc.message,
            http_status=exc.status,
            upstream_code=upstream_code,
            logid=logid,
        )
        self._queue.put_nowait(self._outcome)

    async def _finish_interrupted(self, code: str, message: str) -> None:
        if self._outcome is not None:
            return
        self._outcome = TurnFailed(
            message_id=self.answer.id, status="interrupted", code=code, message=message, http_status=499
        )
        await self.service.store_outcome(self, status="interrupted", error=BotportError(message, code=code))
        await self.service.cancel_upstream(self)
        self._queue.put_nowait(self._outcome)
