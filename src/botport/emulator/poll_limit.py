"""Coze's polling limit on ``/v3/chat/retrieve`` (GET and POST): about one retrieve of a chat a second.

The rule, a token bucket per chat: a chat may be retrieved :data:`BURST` (2) times back to back, then
once a second on average (one retrieve comes back each second, at most :data:`BURST` kept). So:

- a poller that waits 1 s between retrieves never trips it (cozepy's ``create_and_poll``; botport
  itself never polls: it serves every turn from the stream);
- neither does a retrieve right after the chat starts, or one after a broken stream, on top of that;
- a loop without a sleep (the tutorial's bug) is refused on its third retrieve, and coze-js's
  ``chat.createAndPoll`` (a retrieve every 100 ms) is refused on its third one too, once a chat runs
  longer than about 0.3 s: the SDK does not retry, so the call fails with its ``RateLimitError``.

Over the limit the answer is Coze's rate-limit envelope: code :data:`RATE_LIMITED` (4013) with HTTP
429. The number is the one coze-js (``APIError.generate``) and botport's client treat as "rate
limited"; Coze's Chinese error-code page now lists 4013 as a model error and documents no code of
its own for polling too fast, so the code is uncertain. HTTP 429 makes every client see a rate limit
whatever it makes of the code. A refused retrieve does not count against the chat.

``create_emulator_app(poll_limit=False)`` switches the limit off (for tests that poll fast on purpose).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from botport.emulator.envelope import EmulatorError

RATE_LIMITED = 4013
BURST = 2  # retrieves of one chat allowed back to back
PER_SECOND = 1.0  # then this many a second
_PRUNE_AT = 4096  # buckets kept before the full (forgettable) ones are dropped


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class PollLimiter:
    """Counts retrieves per chat; :meth:`check` raises the rate-limit error when one comes too soon."""

    def __init__(
        self,
        *,
        burst: int = BURST,
        per_second: float = PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def check(self, chat_id: str) -> None:
        now = self._clock()
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            if len(self._buckets) >= _PRUNE_AT:
                self._prune(now)
            bucket = self._buckets[chat_id] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.per_second)
        bucket.at = now
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / self.per_second
            raise EmulatorError(
                RATE_LIMITED,
                f"rate limit exceeded: chat {chat_id} was retrieved too often; poll a chat at most once "
                f"a second (or stream it instead); try again in {wait:.1f} s",
                http_status=429,
            )
        bucket.tokens -= 1

    def _prune(self, now: float) -> None:
        """Drop the buckets that have filled up again: they behave like no bucket at all."""
        full = [
            chat_id
            for chat_id, b in self._buckets.items()
            if b.tokens + (now - b.at) * self.per_second >= self.burst
        ]
        for chat_id in full:
            del self._buckets[chat_id]
