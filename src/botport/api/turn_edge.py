"""What every edge does with a turn besides rendering it: read the Idempotency-Key, say whether a
client may retry, stream the rendered frames, and stop a turn whose client cannot come back once it
has gone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated, TypeVar

from fastapi import Header, Request
from fastapi.responses import StreamingResponse

from botport.chat.events import TurnCompleted, TurnFailed

T = TypeVar("T")

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="A repeat with the same key re-attaches to the turn the first request started.",
    ),
]

SHOULD_RETRY = "x-should-retry"  # read by the official OpenAI (and other Stainless-made) clients
MESSAGE_ID_HEADER = "X-Botport-Message-Id"  # the answer's id: resume at /api/messages/{id}/events

SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
}


def retry_headers(end: TurnCompleted | TurnFailed) -> dict[str, str]:
    """A failed turn that ran a Coze chat must not be retried blindly: each retry is another chat."""
    if isinstance(end, TurnFailed) and not end.retryable:
        return {SHOULD_RETRY: "false"}
    return {}


def sse_response(
    frames: AsyncIterator[bytes], *, headers: Mapping[str, str] | None = None
) -> StreamingResponse:
    """A turn's frames (:func:`botport.sse.frame`) as an event stream that no proxy buffers."""
    headers = {**SSE_HEADERS, **(headers or {})}
    return StreamingResponse(frames, media_type="text/event-stream", headers=headers)


async def unless_disconnected(request: Request, work: Awaitable[T], on_disconnect: Callable[[], None]) -> T:
    """Await ``work``; if the client disconnects first, call ``on_disconnect`` (which stops the turn)
    and still await ``work`` (the turn's end is stored; nobody reads the response)."""
    task = asyncio.ensure_future(work)

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            on_disconnect()
        return await task
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
        if not task.done():
            task.cancel()
