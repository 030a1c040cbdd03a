"""Progress of a tool call while the answer streams: ``notifications/progress`` for clients that gave
a progress token (the SDK sends nothing otherwise), throttled so that a fast answer is not a flood.

The progress value is the number of characters streamed so far (thoughts and answer): it only grows,
as the protocol requires, and there is no total (nobody knows an answer's length beforehand). The
message says what the bot is doing and ends with the last words written, for clients that show it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from botport.chat.events import DomainEvent, ReasoningDelta, TextDelta

Report = Callable[[float, float | None, str | None], Awaitable[None]]

INTERVAL = 0.5  # seconds between two notifications, at most one in between
PREVIEW = 60  # characters of the answer's end shown in the message


class Progress:
    def __init__(
        self, report: Report, *, interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic
    ):
        self._report = report
        self._interval = interval
        self._clock = clock
        self._streamed = 0
        self._sent = -1.0  # the last progress value sent
        self._at = float("-inf")  # when it was sent
        self._answer = ""

    async def started(self, bot_name: str) -> None:
        await self._send(f"Asked {bot_name}; waiting for the answer")

    async def on_event(self, event: DomainEvent) -> None:
        if isinstance(event, ReasoningDelta):
            self._streamed += len(event.text)
            message = "The bot is thinking"
        elif isinstance(event, TextDelta):
            self._streamed += len(event.text)
            self._answer = (self._answer + event.text)[-PREVIEW:]
            message = f"Writing the answer: …{' '.join(self._answer.split())}"
        else:
            return
        if self._clock() - self._at >= self._interval:
            await self._send(message)

    async def _send(self, message: str) -> None:
        if self._streamed <= self._sent:  # progress must increase with every notification
            return
        self._sent, self._at = float(self._streamed), self._clock()
        await self._report(self._sent, None, message)
