"""The event log of running turns: each turn's domain events, numbered 1, 2, 3... in order.

The turn appends; any number of watchers follow from any sequence number (a reload, a second tab, a
reconnect) and get each event exactly once. In this process the log is a list in memory, so a delta
goes from Coze to every watcher without touching the database. A finished turn's log is kept for
``retention`` seconds, so a client that reconnects just after the end still resumes exactly; later,
the stored answer is replayed instead (:mod:`botport.chat.replay`).

:class:`EventLogs` is the single-instance default; :mod:`botport.chat.redis_logs` mirrors every log
to Redis Streams so that other instances can follow and stop a turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from botport.chat.events import DomainEvent, ReasoningDelta, TextDelta, TurnCompleted, TurnFailed

Entry = tuple[int, DomainEvent]  # (sequence number, event)
CancelHandler = Callable[[str], None]  # what an instance does when another asks it to stop a turn


class Keepalive:
    """Yielded by a follower after a quiet spell, so an edge can send an SSE comment."""


KEEPALIVE = Keepalive()


def is_terminal(event: DomainEvent) -> bool:
    """The last event of every turn: it completed, or it failed / was interrupted."""
    return isinstance(event, TurnCompleted | TurnFailed)


class TurnLog:
    """One turn's events in this process. Appending never waits; followers wake up."""

    __slots__ = ("_on_end", "_wakeup", "ended", "events", "message_id")

    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        self.events: list[DomainEvent] = []
        self.ended = False
        self._wakeup: asyncio.Event | None = None
        self._on_end: list[asyncio.Future[None]] = []

    @property
    def last_seq(self) -> int:
        return len(self.events)

    def append(self, event: DomainEvent) -> int:
        """Add an event; its sequence number. The terminal event ends the log."""
        if self.ended:
            raise RuntimeError(f"the log of turn {self.message_id} has ended")
        self.events.append(event)
        if is_terminal(event):
            self.ended = True
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None
        return len(self.events)

    async def wait_for_more(self, seen: int) -> None:
        """Return once the log holds more than ``seen`` events or has ended."""
        while len(self.events) <= seen and not self.ended:
            if self._wakeup is None:
                self._wakeup = asyncio.Event()
            await self._wakeup.wait()

    async def follow(
        self, after: int = 0, *, keepalive: float | None = None, join: bool = True
    ) -> AsyncIterator[Entry | Keepalive]:
        """The events after ``after``, then new ones as they come, to the end of the turn.

        Deltas of one kind that are already waiting are joined into one entry carrying the last
        one's number: a watcher that fell behind catches up in one frame instead of many, and a
        reconnect after that number still misses nothing. ``join=False``: every event as it was
        appended (an edge that numbers what it renders from each event needs the same events each time).
        """
        seen = max(0, after)
        while True:
            if seen < len(self.events):
                end = len(self.events)
                while seen < end:
                    seq, event = joined(self.events, seen, end) if join else (seen + 1, self.events[seen])
                    seen = seq
                    yield seq, event
                continue
            if self.ended:
                return
            try:
                # asyncio.timeout, not wait_for: no extra task per wait on this hot path.
                async with asyncio.timeout(keepalive):
                    await self.wait_for_more(seen)
            except TimeoutError:
                yield KEEPALIVE


def joined(events: list[DomainEvent], start: int, end: int) -> Entry:
    """The event at index ``start``, joined with the deltas of the same kind that follow it (up to
    ``end``); returns it with the sequence number of the last one joined."""
    first = events[start]
    if not isinstance(first, TextDelta | ReasoningDelta):
        return start + 1, first
    kind = type(first)
    stop = start + 1
    while stop < end and type(events[stop]) is kind:
        stop += 1
    if stop == start + 1:
        return stop, first
    parts = [e.text for e in events[start:stop] if isinstance(e, TextDelta | ReasoningDelta)]
    return stop, kind("".join(parts))


class EventLogs:
    """The logs of the turns this process runs (and of those that ended within ``retention``)."""

    def __init__(self, *, retention: float) -> None:
        self.retention = retention
        self._logs: dict[str, TurnLog] = {}

    def open(self, message_id: str) -> TurnLog:
        log = TurnLog(message_id)
        self._logs[message_id] = log
        return log

    def get(self, message_id: str) -> TurnLog | None:
        return self._logs.get(message_id)

    def appended(self, log: TurnLog, seq: int, event: DomainEvent) -> None:
        """Called by the turn after each append (the Redis mirror writes it out)."""
        if log.ended:
            asyncio.get_running_loop().call_later(self.retention, self._drop, log)

    def _drop(self, log: TurnLog) -> None:
        if self._logs.get(log.message_id) is log:
            del self._logs[log.message_id]

    async def follow_elsewhere(
        self, message_id: str, after: int, *, keepalive: float | None
    ) -> AsyncIterator[Entry | Keepalive] | None:
        """Follow a turn that another instance runs; None: not possible here (no shared log)."""
        return None

    async def end_elsewhere(self, message_id: str, event: DomainEvent) -> None:
        """End the shared log of a turn whose instance died (nothing to do without a shared log)."""

    async def request_cancel(self, runner: str, message_id: str) -> bool:
        """Ask the instance ``runner`` to stop a turn; False: no such instance could be told."""
        return False

    async def start(self, on_cancel: CancelHandler) -> None:
        """Begin taking cancel requests from other instances (none without a shared log)."""

    async def close(self) -> None:
        self._logs.clear()
