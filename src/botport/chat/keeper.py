"""Keeps running turns durable and orphans resolved, off the hot path.

Every ``interval`` seconds (and soon after a turn learns its Coze ids) one transaction writes what
every running turn of this instance has so far — so a crash loses at most that window of text — and
renews their lease (the heartbeat). Every few ticks it also resolves the turns of instances that
stopped heart-beating (``kill -9``, a lost machine) as ``failed`` with the text they had, and
cancels their Coze chats, so their conversations take a new turn. And it asks Coze again to cancel the
chats of turns that ended while Coze could not be reached (a network drop): Coze goes on with such a
chat, and its conversation takes no new turn there until the chat ends, minutes later for a long one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from sqlalchemy.engine import Connection

from botport.chat.eventlog import EventLogs
from botport.chat.events import TurnFailed
from botport.chat.turn import Turn, cancel_coze_chat, try_cancel_coze_chat
from botport.store import turns as turn_store
from botport.store.attachments import sweep_unattached
from botport.store.db import Database
from botport.store.idempotency import purge_idempotency_keys
from botport.upstream.client import CozeClient

log = logging.getLogger(__name__)

SWEEP_EVERY_TICKS = 3
PURGE_EVERY_TICKS = 1800  # idempotency keys and unsent uploads past their day: once an hour by default
ORPHAN_CANCEL_CONCURRENCY = 16
CANCEL_RETRY_FOR = 900.0  # seconds: by then Coze has ended the chat by itself
MAX_CANCELS_PER_TICK = 64


def new_runner_id() -> str:
    """This instance's name in the lease of the turns it runs."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"


class TurnKeeper:
    def __init__(
        self,
        *,
        db: Database,
        coze: CozeClient,
        logs: EventLogs,
        runner: str,
        running: Callable[[], Iterable[Turn]],
        interval: float,
        lease: float,
    ) -> None:
        self.db = db
        self.coze = coze
        self.logs = logs
        self.runner = runner
        self.running = running
        self.interval = interval
        self.lease = timedelta(seconds=lease)
        self._poked = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ticks = 0
        # Coze chat id -> (its conversation id, when to give up): cancels that did not go through
        self._to_cancel: dict[str, tuple[str, float]] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="botport-turn-keeper")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def poke(self) -> None:
        """A turn learnt its Coze ids: write them at the next chance (another instance needs them to
        stop the turn, and a restart needs them to cancel an orphaned chat)."""
        self._poked.set()

    async def _loop(self) -> None:
        next_tick = time.monotonic() + self.interval
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_tick - time.monotonic())):
                    await self._poked.wait()
            self._poked.clear()
            try:
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.interval
                    await self.tick()
                else:  # poked: only the new Coze ids, the text waits for the tick
                    await self.checkpoint(ids_only=True)
            except Exception:  # a database hiccup must not end the keeping
                log.exception("checkpointing running turns failed; trying again")

    def cancel_later(self, coze_conversation_id: str, chat_id: str) -> None:
        """Coze could not be reached to cancel this chat: ask again at the next ticks."""
        self._to_cancel[chat_id] = (coze_conversation_id, time.monotonic() + CANCEL_RETRY_FOR)

    async def tick(self) -> None:
        self._ticks += 1
        if self._to_cancel:
            await self.retry_cancels()
        await self.checkpoint()
        if self._ticks % SWEEP_EVERY_TICKS == 0:
            await self.sweep(lease=self.lease)
        if self._ticks % PURGE_EVERY_TICKS == 0:
            await self.db.write(purge_idempotency_keys)
            await self.db.write(sweep_unattached)  # uploads no message carried within a day

    async def checkpoint(self, *, ids_only: bool = False) -> None:
        """Write what running turns have. A turn younger than one interval has less than one interval
        of text: it is written only for its Coze ids (a crash still loses at most one interval)."""
        turns = list(self.running())
        if not turns:
            return
        young = time.monotonic() - self.interval
        points = [
            (turn, point)
            for turn in turns
            if (point := turn.pending_checkpoint(ids_only=ids_only or turn.started_at > young)) is not None
        ]
        if ids_only and not points:
            return
        alive = [] if ids_only else [turn.id for turn in turns]

        def write(conn: Connection) -> None:
            turn_store.checkpoint(conn, points=[point for _, point in points])
            turn_store.heartbeat(conn, message_ids=alive)

        await self.db.write(write)
        for turn, point in points:
            turn.checkpointed(point)

    async def sweep(self, *, lease: timedelta | None, conversation_id: str | None = None) -> int:
        """Resolve dead instances' turns (all streaming ones when ``lease`` is None) and cancel their
        Coze chats; returns how many."""
        mine = {turn.id for turn in self.running()}
        orphans = await self.db.write(
            lambda conn: turn_store.resolve_orphans(
                conn, lease=lease, conversation_id=conversation_id, keep=mine
            )
        )
        if orphans:
            log.warning("%d answer(s) left running by a stopped instance were marked failed", len(orphans))
            lost = [(o.message_id, _lost(o.message_id)) for o in orphans]
            await asyncio.gather(
                self.cancel_chats(orphans), *(self.logs.end_elsewhere(mid, end) for mid, end in lost)
            )
        return len(orphans)

    async def retry_cancels(self) -> None:
        now = time.monotonic()
        due = list(self._to_cancel.items())[:MAX_CANCELS_PER_TICK]
        gate = asyncio.Semaphore(ORPHAN_CANCEL_CONCURRENCY)

        async def retry(chat_id: str, conversation_id: str, give_up_at: float) -> None:
            async with gate:
                outcome = await try_cancel_coze_chat(self.coze, conversation_id, chat_id)
            if outcome != "unreachable" or now > give_up_at:
                self._to_cancel.pop(chat_id, None)

        await asyncio.gather(*(retry(chat, conv, until) for chat, (conv, until) in due))

    async def cancel_chats(self, orphans: list[turn_store.Orphan]) -> None:
        gate = asyncio.Semaphore(ORPHAN_CANCEL_CONCURRENCY)

        async def cancel(orphan: turn_store.Orphan) -> None:
            if orphan.upstream_chat_id and orphan.coze_conversation_id:
                async with gate:
                    await cancel_coze_chat(self.coze, orphan.coze_conversation_id, orphan.upstream_chat_id)

        await asyncio.gather(*(cancel(orphan) for orphan in orphans))


def _lost(message_id: str) -> TurnFailed:
    return TurnFailed(
        message_id=message_id,
        status="failed",
        code=turn_store.ORPHAN_CODE,
        message=turn_store.ORPHAN_MESSAGE,
    )
