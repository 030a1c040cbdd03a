"""Rate limits and concurrency slots, in this process's memory or in Redis (shared by instances).

Rates use GCRA (the generic cell rate algorithm): a bucket keeps one number, the theoretical arrival
time (TAT) of its next request. ``limit`` requests per ``period`` means one every ``period / limit``
seconds, with a burst of ``limit`` at once; a request that would push the TAT more than ``period``
ahead of now is refused, and the wait until it would not is its Retry-After. One number per bucket
makes it cheap in memory and a single atomic script in Redis.

Slots count things that run (turns): a holder takes one for as long as it runs. In Redis a slot is a
member of a sorted set scored by its expiry, so an instance that dies without giving its slots back
holds them at most ``ttl`` seconds.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY_PREFIX = "botport:limit:"
_PRUNE_EVERY = 10_000  # memory: forget idle buckets after this many new ones


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    period: float = 60.0

    @property
    def interval(self) -> float:
        return self.period / self.limit


class Limiter(Protocol):
    async def hit(self, bucket: str, rate: Rate) -> float | None:
        """Count one request against ``bucket``: None if allowed, else seconds until one would be."""

    async def acquire(self, bucket: str, holder: str, limit: int, ttl: float) -> bool:
        """Take one of ``limit`` slots of ``bucket`` for ``holder``; False if all are taken."""

    async def release(self, bucket: str, holder: str) -> None: ...

    async def aclose(self) -> None: ...


def retry_after_seconds(wait: float) -> int:
    """A Retry-After value: whole seconds, at least 1 (0 would invite an immediate retry)."""
    return max(1, math.ceil(wait))


class MemoryLimiter:
    """One process's limits (the default: one instance, or limits per instance)."""

    def __init__(self) -> None:
        self._tat: dict[str, float] = {}
        self._slots: dict[str, set[str]] = {}
        self._new_buckets = 0

    async def hit(self, bucket: str, rate: Rate) -> float | None:
        now = time.monotonic()
        tat = max(self._tat.get(bucket, now), now)
        new_tat = tat + rate.interval
        if new_tat - now > rate.period:
            return new_tat - now - rate.period
        if bucket not in self._tat:
            self._new_buckets += 1
            if self._new_buckets >= _PRUNE_EVERY:
                self._prune(now)
        self._tat[bucket] = new_tat
        return None

    def _prune(self, now: float) -> None:
        """A bucket whose TAT has passed is as good as new: drop it (memory stays bounded by the
        callers of the last period, not by every caller ever seen)."""
        self._new_buckets = 0
        self._tat = {bucket: tat for bucket, tat in self._tat.items() if tat > now}

    async def acquire(self, bucket: str, holder: str, limit: int, ttl: float) -> bool:
        held = self._slots.setdefault(bucket, set())
        if holder in held:
            return True
        if len(held) >= limit:
            return False
        held.add(holder)
        return True

    async def release(self, bucket: str, holder: str) -> None:
        held = self._slots.get(bucket)
        if held is not None:
            held.discard(holder)
            if not held:
                del self._slots[bucket]

    async def aclose(self) -> None:
        return None


# KEYS[1] bucket; ARGV: interval, period (milliseconds). Redis's own clock: instances may disagree.
_GCRA = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > period then return new_tat - now - period end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1000)
return -1
"""

# KEYS[1] slot set; ARGV: holder, limit, ttl (milliseconds).
_ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
return 1
"""


class RedisLimiter:
    """Limits shared by every instance that uses the same Redis (``BOTPORT_REDIS_URL``).

    Redis down: requests are let through (and it is logged) — a limit is protection, and refusing
    every caller because its store is down would turn a Redis outage into a botport outage.
    """

    def __init__(self, url: str) -> None:
        self.redis: aioredis.Redis = aioredis.Redis.from_url(url)
        self._gcra = self.redis.register_script(_GCRA)
        self._acquire = self.redis.register_script(_ACQUIRE)

    async def hit(self, bucket: str, rate: Rate) -> float | None:
        try:
            waited = await self._gcra(
                keys=[KEY_PREFIX + "rate:" + bucket],
                args=[round(rate.interval * 1000), round(rate.period * 1000)],
            )
        except RedisError as exc:
            log.warning("rate limit %s not checked, Redis failed: %s", bucket.partition(":")[0], exc)
            return None
        return None if int(waited) < 0 else int(waited) / 1000

    async def acquire(self, bucket: str, holder: str, limit: int, ttl: float) -> bool:
        try:
            taken = await self._acquire(
                keys=[KEY_PREFIX + "slots:" + bucket], args=[holder, limit, round(ttl * 1000)]
            )
        except RedisError as exc:
            log.warning("turn slots %s not checked, Redis failed: %s", bucket.partition(":")[0], exc)
            return True
        return bool(int(taken))

    async def release(self, bucket: str, holder: str) -> None:
        try:
            await self.redis.zrem(KEY_PREFIX + "slots:" + bucket, holder)
        except RedisError as exc:  # the slot expires by itself
            log.warning("a turn slot was not given back, Redis failed: %s", exc)

    async def aclose(self) -> None:
        await self.redis.aclose()


def make_limiter(redis_url: str | None) -> Limiter:
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
