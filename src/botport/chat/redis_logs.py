"""Event logs shared through Redis, for several instances (``BOTPORT_REDIS_URL``).

Each turn this instance runs keeps its log in memory as with :class:`EventLogs` (its own watchers
never wait on Redis) and mirrors it to a Redis Stream ``botport:turn:{message_id}``, whose entry ids
are ``0-{seq}``: a watcher on another instance resumes with ``XREAD`` after ``0-{N}``. Appends are
written by one background writer, several turns' events in one pipeline, so the per-delta cost is a
list append; a stream expires ``retention`` seconds after its turn ended (and in any case after
the turn deadline, should its instance die).

Stop from another instance: each instance listens on ``botport:cancel:{runner}``; a ``PUBLISH``
there reaches the instance that runs the turn, and tells the sender whether anyone heard it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from botport.chat import codec
from botport.chat.eventlog import KEEPALIVE, CancelHandler, Entry, EventLogs, Keepalive, TurnLog, is_terminal
from botport.chat.events import DomainEvent

log = logging.getLogger(__name__)

STREAM_PREFIX = "botport:turn:"
CANCEL_PREFIX = "botport:cancel:"
READ_BATCH = 500
# One XREAD blocks at most this long (a keepalive comes after several): it must stay under the
# client's socket timeout, or the read fails with TimeoutError (redis-py 8 defaults that to 5 s).
READ_BLOCK = 2.0


def stream_key(message_id: str) -> str:
    return STREAM_PREFIX + message_id


def _seq(entry_id: bytes) -> int:
    """The sequence number of a stream entry ``0-{seq}``."""
    return int(entry_id.decode().partition("-")[2])


async def _nothing() -> AsyncIterator[Entry | Keepalive]:
    return
    yield  # an async generator that yields nothing


class RedisEventLogs(EventLogs):
    def __init__(self, url: str, *, runner: str, retention: float, max_turn_seconds: float) -> None:
        super().__init__(retention=retention)
        self.redis: aioredis.Redis = aioredis.Redis.from_url(url)
        self.runner = runner
        # A stream whose instance died never gets its end: it expires after the longest turn.
        self._orphan_ttl = int(max_turn_seconds + retention + 60)
        self._pending: list[tuple[str, int, bytes, bool]] = []
        self._wakeup = asyncio.Event()
        self._writing = False
        self._writer: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: Any = None

    # --- writing --------------------------------------------------------------------------------

    def appended(self, log_: TurnLog, seq: int, event: DomainEvent) -> None:
        super().appended(log_, seq, event)
        self._pending.append((log_.message_id, seq, codec.encode(event), log_.ended))
        self._wakeup.set()

    async def _write_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            pipe = self.redis.pipeline(transaction=False)
            for message_id, seq, payload, ended in batch:
                key = stream_key(message_id)
                pipe.xadd(key, {"e": payload}, id=f"0-{seq}")
                if seq == 1:
                    pipe.expire(key, self._orphan_ttl)
                if ended:
                    pipe.expire(key, int(self.retention))
            self._writing = True
            try:
                await pipe.execute(raise_on_error=False)
            except (RedisError, OSError) as exc:  # watchers here are unaffected; remote ones fall back
                log.warning("writing %d turn event(s) to Redis failed: %s", len(batch), exc)
            finally:
                self._writing = False

    async def flush(self) -> None:
        """Wait until everything appended so far is in Redis (tests, shutdown)."""
        while self._pending or self._writing:  # noqa: ASYNC110 - rare, and bounded by the caller
            await asyncio.sleep(0.005)

    # --- following from another instance --------------------------------------------------------

    async def follow_elsewhere(
        self, message_id: str, after: int, *, keepalive: float | None
    ) -> AsyncIterator[Entry | Keepalive] | None:
        key = stream_key(message_id)
        try:
            newest: Any = await self.redis.xrevrange(key, count=1)
        except (RedisError, OSError) as exc:
            log.warning("Redis is unreachable, following turn %s from the store: %s", message_id, exc)
            return None
        if not newest:
            return None
        entry_id, fields = newest[0]
        if _seq(entry_id) <= after and is_terminal(codec.decode(fields[b"e"])):
            return _nothing()  # the watcher has seen the end already: nothing to wait for
        return self._read(key, after, keepalive or 15.0)

    async def _read(self, key: str, after: int, keepalive: float) -> AsyncIterator[Entry | Keepalive]:
        last = max(0, after)
        block = max(1, int(min(keepalive, READ_BLOCK) * 1000))
        quiet_since = time.monotonic()
        while True:
            reply: Any = await self.redis.xread({key: f"0-{last}"}, count=READ_BATCH, block=block)
            if not reply:
                if time.monotonic() - quiet_since >= keepalive:
                    quiet_since = time.monotonic()
                    yield KEEPALIVE
                continue
            quiet_since = time.monotonic()
            for _stream, entries in reply:
                for entry_id, fields in entries:
                    seq = _seq(entry_id)
                    event = codec.decode(fields[b"e"])
                    last = seq
                    yield seq, event
                    if is_terminal(event):
                        return

    # --- stopping a turn on another instance -----------------------------------------------------

    async def end_elsewhere(self, message_id: str, event: DomainEvent) -> None:
        """A dead instance's turn was resolved here: give its followers the end it never wrote.
        ``0-*`` numbers the entry after the last one; a stream that expired is left alone."""
        key = stream_key(message_id)
        try:
            if await self.redis.exists(key):
                pipe = self.redis.pipeline(transaction=False)
                pipe.xadd(key, {"e": codec.encode(event)}, id="0-*")
                pipe.expire(key, int(self.retention))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("could not end the shared log of turn %s: %s", message_id, exc)

    async def request_cancel(self, runner: str, message_id: str) -> bool:
        try:
            heard = await self.redis.publish(CANCEL_PREFIX + runner, message_id)
        except (RedisError, OSError) as exc:
            log.warning("could not ask instance %s to stop turn %s: %s", runner, message_id, exc)
            return False
        return int(heard) > 0

    async def start(self, on_cancel: CancelHandler) -> None:
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(CANCEL_PREFIX + self.runner)
        self._listener = asyncio.create_task(self._listen(on_cancel), name="botport-cancel-listener")
        self._writer = asyncio.create_task(self._write_forever(), name="botport-redis-log-writer")

    async def _listen(self, on_cancel: CancelHandler) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except (RedisError, OSError) as exc:
                log.warning("listening for cancel requests failed, retrying: %s", exc)
                await asyncio.sleep(1)
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.subscribe(CANCEL_PREFIX + self.runner)
                continue
            if message and message.get("type") == "message":
                on_cancel(message["data"].decode())

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2):
                await self.flush()
        for task in (self._listener, self._writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
        await self.redis.aclose()
        await super().close()
