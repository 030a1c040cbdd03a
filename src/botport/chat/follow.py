"""Following a turn from any sequence number, wherever it runs: its log in this process, its log in
Redis (another instance runs it), or else the store — polled at most once a second until the answer
ends, then replayed (:mod:`botport.chat.replay`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from botport.chat.eventlog import KEEPALIVE, Entry, EventLogs, Keepalive
from botport.chat.events import TurnCompleted, TurnFailed
from botport.chat.handles import TurnHandle, TurnResult
from botport.chat.replay import ending, stored_entries
from botport.errors import NotFoundError
from botport.identity import Identity
from botport.store import repository as repo
from botport.store import turns as turn_store
from botport.store.db import Database
from botport.store.records import MessageRecord

STORED_POLL = 1.0  # seconds: following a turn another instance runs, without a shared log
REMOTE_KEEPALIVE = 15.0  # seconds; a remote follower checks the store at least twice a lease

# Resolve the dead instance's turns in one conversation (the keeper's sweep); how many it resolved.
Sweep = Callable[[str], Awaitable[int]]


class TurnFollower:
    def __init__(self, *, db: Database, logs: EventLogs, lease: timedelta, sweep: Sweep) -> None:
        self.db = db
        self.logs = logs
        self.lease = lease
        self.sweep = sweep

    async def owned_answer(self, identity: Identity, message_id: str) -> TurnHandle:
        """An answer of the caller's, to watch (404 when it is not theirs or not an answer)."""
        async with self.db.read() as conn:
            message = await repo.get_message(conn, message_id=message_id)
            conversation = (
                await repo.get_conversation(
                    conn, owner=identity.owner, conversation_id=message.conversation_id
                )
                if message
                else None
            )
        if message is None or conversation is None or message.role != "assistant":
            raise NotFoundError("no such message", code="message_not_found")
        return TurnHandle(message, conversation, None, repeated=True)

    async def result(self, handle: TurnHandle) -> TurnResult:
        """Wait for the turn's end; the stored answer and how the turn ended."""
        end: TurnCompleted | TurnFailed | None = None
        async for item in self.follow(handle, 0, None):
            if not isinstance(item, Keepalive) and isinstance(item[1], TurnCompleted | TurnFailed):
                end = item[1]
        async with self.db.read() as conn:
            message = await repo.get_message(conn, message_id=handle.answer.id)
        if message is None or end is None:
            raise NotFoundError("the answer was deleted", code="message_not_found")
        return TurnResult(message, end)

    async def follow(
        self, handle: TurnHandle, after: int, keepalive: float | None, *, seen: int = 0, join: bool = True
    ) -> AsyncIterator[Entry | Keepalive]:
        turn_log = self.logs.get(handle.answer.id)
        if turn_log is not None:
            async for item in turn_log.follow(after, keepalive=keepalive, join=join):
                yield item
            return
        # Quiet spells are also when the store is asked whether the turn's instance died: within
        # half a lease, so a watcher hears of a lost turn about when another instance resolves it.
        quiet = min(keepalive or REMOTE_KEEPALIVE, self.lease.total_seconds() / 2)
        remote = await self.logs.follow_elsewhere(handle.answer.id, after, keepalive=quiet)
        if remote is None:
            async for item in self._follow_stored(handle, after, keepalive, seen):
                yield item
            return
        async for item in remote:
            if isinstance(item, Keepalive):
                # Quiet: the instance may have died, or ended the turn without Redis getting its end.
                end = await self._stored_end(handle, max(after, seen))
                if end is not None:
                    yield end
                    return
            else:
                after = item[0]
            yield item

    async def _follow_stored(
        self, handle: TurnHandle, after: int, keepalive: float | None, seen: int
    ) -> AsyncIterator[Entry | Keepalive]:
        """No live log to follow: wait for the stored answer to end, then replay it."""
        quiet = 0.0
        while True:
            message = await self._alive_or_resolved(handle)
            if message is None:
                return
            if message.status != "streaming":
                for entry in stored_entries(message, bot=handle.conversation.bot, after=after, seen=seen):
                    yield entry
                return
            await asyncio.sleep(STORED_POLL)
            quiet += STORED_POLL
            if keepalive is not None and quiet >= keepalive:
                quiet = 0.0
                yield KEEPALIVE

    async def _stored_end(self, handle: TurnHandle, after: int) -> Entry | None:
        """The end of a turn that has ended in the store (None: still running)."""
        message = await self._alive_or_resolved(handle)
        if message is None:
            return (after + 1, ending(handle.answer))
        if message.status == "streaming":
            return None
        return (max(message.last_seq or 0, after + 1), ending(message))

    async def _alive_or_resolved(self, handle: TurnHandle) -> MessageRecord | None:
        """The stored answer; one whose instance stopped heart-beating is resolved first."""
        async with self.db.read() as conn:
            message = await repo.get_message(conn, message_id=handle.answer.id)
        if (
            message is not None
            and message.status == "streaming"
            and not turn_store.is_alive(message, self.lease)
        ):
            await self.sweep(handle.conversation.id)
            async with self.db.read() as conn:
                message = await repo.get_message(conn, message_id=handle.answer.id)
        return message
