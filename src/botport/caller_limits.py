"""Who may do how much: requests a minute, turns a minute, answers at once, and a key's daily quota.

A caller is an API key, or a browser (its identity cookie). Dropping the cookie makes a new identity,
so what a browser does also counts against its client address (from a trusted proxy's header, see
:mod:`botport.api.forwarded`). Every turn is a paid Coze call: turns have limits of their own.

The counters live in a :class:`~botport.ratelimit.Limiter` (memory, or Redis for several instances);
a key's usage per day is in the database, where its turns' ends already write.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from botport.errors import TooManyRequestsError
from botport.identity import Identity
from botport.ratelimit import Limiter, Rate, retry_after_seconds
from botport.settings import Settings
from botport.store import keys
from botport.store.db import Database

PASSCODE_ATTEMPTS_PER_MINUTE = 10
SLOT_MARGIN = 60.0  # seconds a turn slot outlives the turn deadline, should its instance die


@dataclass(frozen=True, slots=True)
class TurnTicket:
    """A running turn's slot: given back when the turn ends."""

    bucket: str
    holder: str


class CallerLimits:
    def __init__(self, settings: Settings, limiter: Limiter, db: Database) -> None:
        self.settings = settings
        self.limiter = limiter
        self.db = db
        self.slot_ttl = settings.turn_timeout + SLOT_MARGIN
        self._held: dict[str, TurnTicket] = {}  # answer id -> the slot its running turn holds

    async def _hit(self, bucket: str, per_minute: int, what: str) -> None:
        if per_minute <= 0:
            return
        wait = await self.limiter.hit(bucket, Rate(per_minute))
        if wait is not None:
            seconds = retry_after_seconds(wait)
            raise TooManyRequestsError(
                f"too many {what} (at most {per_minute} a minute): try again in {seconds} s",
                retry_after=seconds,
            )

    async def check_browser_request(self, identity: Identity | None, address: str | None) -> None:
        """A request without an API key: its browser's and its address's requests a minute."""
        if identity is not None:
            await self._hit(f"req:web:{identity.id}", self.settings.requests_per_minute, "requests")
        if address:
            await self._hit(f"req:addr:{address}", self.settings.address_requests_per_minute, "requests")

    async def check_passcode_attempt(self, address: str | None) -> None:
        """Guesses at the web chat's passcode, per client address."""
        await self._hit(f"passcode:{address}", PASSCODE_ATTEMPTS_PER_MINUTE, "passcode attempts")

    async def check_key_request(self, identity: Identity) -> None:
        """A request with an API key: its quota's requests a minute, if it has one."""
        quota = identity.quota
        if quota is not None and quota.requests_per_minute:
            per_minute = quota.requests_per_minute
            await self._hit(f"req:key:{identity.id}", per_minute, "requests with this API key")

    async def admit_turn(self, identity: Identity) -> TurnTicket | None:
        """Let a new turn start, or raise :class:`TooManyRequestsError` (429, Retry-After). The ticket,
        if any, must be given back with :meth:`release` when the turn ends (or fails to start)."""
        if identity.kind == "key":
            quota = identity.quota
            if quota is not None and (quota.turns_per_day or quota.tokens_per_day):
                await self._check_daily(identity)
            limit = quota.concurrent_turns if quota is not None else None
        else:
            await self._hit(f"turn:web:{identity.id}", self.settings.turns_per_minute, "messages")
            if identity.address:
                per_minute = self.settings.address_turns_per_minute
                await self._hit(f"turn:addr:{identity.address}", per_minute, "messages from this address")
            limit = self.settings.concurrent_turns or None
        if not limit:
            return None
        ticket = TurnTicket(f"running:{identity.owner}", secrets.token_hex(8))
        if not await self.limiter.acquire(ticket.bucket, ticket.holder, limit, self.slot_ttl):
            raise TooManyRequestsError(
                f"{limit} answer{'s are' if limit > 1 else ' is'} already being written for you; "
                "wait for one to finish, or stop it",
                retry_after=2,
            )
        return ticket

    async def _check_daily(self, identity: Identity) -> None:
        quota = identity.quota
        assert quota is not None
        turns, tokens = await self.db.read_op(lambda conn: keys.usage_today(conn, identity.id))
        over = None
        if quota.turns_per_day and turns >= quota.turns_per_day:
            over = f"{turns} of {quota.turns_per_day} turns"
        elif quota.tokens_per_day and tokens >= quota.tokens_per_day:
            over = f"{tokens} of {quota.tokens_per_day} tokens"
        if over is not None:
            seconds = retry_after_seconds(keys.seconds_to_next_day())
            raise TooManyRequestsError(
                f"this API key used its daily quota ({over} today); it renews at 00:00 UTC",
                code="quota_exceeded",
                retry_after=seconds,
            )

    def hold(self, answer_id: str, ticket: TurnTicket | None) -> None:
        """The turn of ``answer_id`` started with ``ticket``: given back by :meth:`turn_ended`."""
        if ticket is not None:
            self._held[answer_id] = ticket

    def turn_ended(self, answer_id: str) -> None:
        self.give_back(self._held.pop(answer_id, None))

    def give_back(self, ticket: TurnTicket | None) -> None:
        """Free a turn's slot, soon (a turn's end is not held up by Redis). Twice does no harm."""
        if ticket is not None:
            task = asyncio.ensure_future(self.release(ticket))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def release(self, ticket: TurnTicket | None) -> None:
        if ticket is not None:
            await self.limiter.release(ticket.bucket, ticket.holder)

    async def aclose(self) -> None:
        await self.limiter.aclose()
