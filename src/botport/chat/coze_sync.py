"""What botport tells Coze after the fact, off the request path: a conversation deleted here is
deleted there too, and a rating given here becomes the Coze message's feedback.

The user's request is answered as soon as botport's own store has the change; Coze is told by a task
of its own, so a slow or unreachable Coze never makes the request slow or fail. Each change has a
*lane*, keyed by what it changes (one Coze conversation, one message's rating): a newer change on
the same key replaces one still waiting (only the latest rating counts), and the lane sends the
change until it is settled:

- **done**: Coze took it, or answered "not found" (4200: the conversation, the message or its
  feedback is gone already — what was asked for is true);
- **tried again** after a growing pause (1 s, doubling, at most 60 s) while Coze cannot be reached,
  times out, answers 5xx, is rate limited, or still runs a chat in the conversation (4016: the answer
  botport stopped before the delete ends in a moment; a cancel that could not reach Coze is asked
  again by :class:`botport.chat.keeper.TurnKeeper`);
- **given up**, with a warning in the log (ids and Coze's log id, never the token): any other refusal
  (a token without the permission...), or failures for ``retry_for`` seconds (15 min, as the keeper
  does for cancels).

Lanes live in memory: a restart forgets a change not yet sent (Coze then keeps that conversation, or
lacks that rating); botport's own data is already stored either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from botport.chat.turn import Turn
from botport.errors import (
    BotportError,
    ConversationBusyError,
    ConversationNotFoundError,
    CozeAPIError,
    RateLimitedError,
    UpstreamConnectionError,
    UpstreamHTTPError,
    UpstreamOverloadedError,
    UpstreamTimeout,
)
from botport.store.records import ConversationRecord, Rating
from botport.upstream.client import CozeClient

log = logging.getLogger(__name__)

NOT_FOUND = 4200  # Coze's "not found": the thing to delete is gone already
CALL_TIMEOUT = 10.0  # seconds one call to Coze may take
FIRST_PAUSE = 1.0  # seconds before the first retry; doubled after each failure
MAX_PAUSE = 60.0
RETRY_FOR = 900.0  # seconds of failures before giving up
MAX_LANES = 10_000  # changes waiting at once; past it a new one is dropped (and logged)

Outcome = Literal["done", "again", "refused"]
Send = Callable[[CozeClient], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Change:
    what: str  # for the log: "delete of Coze conversation 123"
    send: Send


class CozeSync:
    def __init__(
        self,
        coze: CozeClient,
        *,
        first_pause: float = FIRST_PAUSE,
        max_pause: float = MAX_PAUSE,
        retry_for: float = RETRY_FOR,
        max_lanes: int = MAX_LANES,
    ) -> None:
        self.coze = coze
        self.first_pause = first_pause
        self.max_pause = max_pause
        self.retry_for = retry_for
        self.max_lanes = max_lanes
        self._latest: dict[str, Change] = {}  # key -> the change its lane sends next
        self._lanes: dict[str, asyncio.Task[None]] = {}
        self._news: dict[str, asyncio.Event] = {}  # key -> set when a newer change arrives
        self._closed = False

    # --- the changes ------------------------------------------------------------------------------

    def delete_conversation(self, coze_conversation_id: str) -> None:
        """Delete the Coze conversation (botport deleted its own)."""

        async def send(coze: CozeClient) -> None:
            await coze.delete_conversation(coze_conversation_id)

        self.submit(
            f"conversation:{coze_conversation_id}",
            Change(f"delete of Coze conversation {coze_conversation_id}", send),
        )

    def rate_message(
        self, *, conversation_id: str, message_id: str, rating: Rating | None, comment: str | None = None
    ) -> None:
        """Set (or with ``rating`` None, remove) the feedback on a Coze message."""
        ids = {"conversation_id": conversation_id, "message_id": message_id}

        async def send(coze: CozeClient) -> None:
            if rating is None:
                await coze.delete_message_feedback(**ids)
            else:
                await coze.set_message_feedback(**ids, feedback_type=rating, comment=comment)

        what = f"{rating or 'removal of the'} feedback on Coze message {message_id}"
        self.submit(f"feedback:{conversation_id}:{message_id}", Change(what, send))

    def submit(self, key: str, change: Change) -> None:
        """Send ``change`` in the lane of ``key``, replacing a change of that key still waiting."""
        if self._closed:
            log.warning("%s is not sent: botport is stopping", change.what)
            return
        if key not in self._lanes and len(self._lanes) >= self.max_lanes:
            log.warning("%s is dropped: %d changes are waiting for Coze already", change.what, self.max_lanes)
            return
        self._latest[key] = change
        news = self._news.get(key)
        if news is not None:
            news.set()
        if key not in self._lanes:
            self._news[key] = asyncio.Event()
            self._lanes[key] = asyncio.create_task(self._lane(key), name=f"botport-coze-sync-{key}")

    @property
    def pending(self) -> int:
        """Changes not settled yet (being sent or waiting for their next try)."""
        return len(self._lanes)

    async def settled(self) -> None:
        """Until every change submitted so far is settled (sent, given up or dropped)."""
        while self._lanes:
            await asyncio.wait(list(self._lanes.values()))

    async def close(self) -> None:
        """Stop: changes not sent yet are forgotten (and logged)."""
        self._closed = True
        lanes = list(self._lanes.values())
        if lanes:
            log.warning("%d change(s) for Coze were not sent before the shutdown", len(lanes))
        for lane in lanes:
            lane.cancel()
        for lane in lanes:
            with contextlib.suppress(asyncio.CancelledError):
                await lane

    # --- the lanes --------------------------------------------------------------------------------

    async def _lane(self, key: str) -> None:
        try:
            # No await between the last pop and the end: a change submitted meanwhile starts a new lane.
            while (change := self._latest.pop(key, None)) is not None:
                await self._deliver(key, change)
        finally:
            del self._lanes[key]
            self._news.pop(key, None)

    async def _deliver(self, key: str, change: Change) -> None:
        give_up_at = time.monotonic() + self.retry_for
        pause = self.first_pause
        tries = 0
        while True:
            tries += 1
            outcome, reason = await self._try(change)
            if outcome == "done":
                log.debug("%s: %s", change.what, reason)
                return
            if outcome == "refused":
                log.warning("%s was refused by Coze; giving up: %s", change.what, reason)
                return
            if time.monotonic() + pause > give_up_at:
                log.warning("%s failed %d times; giving up: %s", change.what, tries, reason)
                return
            log.info("%s did not go through (%s); trying again in %g s", change.what, reason, pause)
            if await self._newer_within(key, pause):
                return  # a newer change of this key replaces this one
            pause = min(pause * 2, self.max_pause)

    async def _newer_within(self, key: str, seconds: float) -> bool:
        news = self._news[key]
        news.clear()
        if key not in self._latest:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    await news.wait()
        return key in self._latest

    async def _try(self, change: Change) -> tuple[Outcome, str]:
        try:
            async with asyncio.timeout(CALL_TIMEOUT):
                await change.send(self.coze)
        except TimeoutError:
            return "again", f"no answer within {CALL_TIMEOUT:g} s"
        except BotportError as exc:
            return _outcome(exc), str(exc)
        except Exception as exc:  # a bug: visible, and not retried for ever
            log.exception("%s crashed", change.what)
            return "refused", type(exc).__name__
        return "done", "done"


def _outcome(exc: BotportError) -> Outcome:
    if isinstance(exc, ConversationNotFoundError) or getattr(exc, "upstream_code", None) == NOT_FOUND:
        return "done"
    transient = (
        ConversationBusyError,
        RateLimitedError,
        UpstreamConnectionError,
        UpstreamTimeout,
        UpstreamOverloadedError,
    )
    if isinstance(exc, transient):
        return "again"
    if isinstance(exc, UpstreamHTTPError):
        return "again" if (exc.http_status or 500) >= 500 or exc.http_status == 429 else "refused"
    if isinstance(exc, CozeAPIError) and (exc.upstream_code or 0) >= 5000:  # Coze's internal error
        return "again"
    return "refused"


def coze_conversation_of(conversation: ConversationRecord, running: Iterable[Turn]) -> str | None:
    """The Coze conversation of one of botport's: stored, or known so far only by the conversation's
    first turn, still running here (it is stored when the turn ends or at its next checkpoint)."""
    if conversation.coze_conversation_id:
        return conversation.coze_conversation_id
    for turn in running:
        if turn.conversation.id == conversation.id:
            return turn.state.coze_conversation_id
    return None
