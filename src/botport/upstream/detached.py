"""Exchanges with Coze that no cancel reaches.

httpcore's connection pool can orphan a connection for good when a task is cancelled inside it
(encode/httpcore#1093, open): with the streams' pool wait unbounded, every later turn on that pool
would wait for ever. So every exchange runs in a task of its own, referenced until done (asyncio keeps
only weak references to tasks), and a caller cancelled meanwhile leaves it to finish, bounded by the
timeouts: see :class:`botport.upstream.client.CozeClient`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class DetachedExchanges:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, work: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        """``work`` in a task of its own."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return task

    async def run(self, work: Coroutine[Any, Any, _T]) -> _T:
        """``work``'s result; a caller cancelled meanwhile leaves it running."""
        return await asyncio.shield(self.start(work))

    def close_when_sent(self, sending: asyncio.Future[httpx.Response]) -> None:
        """A done callback for a request whose caller was cancelled: close its response once here."""
        if not sending.cancelled() and sending.exception() is None:
            self.start(sending.result().aclose())

    async def wait_at_most(self, seconds: float) -> None:
        """Until those still running have finished, or ``seconds`` have passed."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=seconds)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("a detached exchange with Coze ended with %r", task.exception())
