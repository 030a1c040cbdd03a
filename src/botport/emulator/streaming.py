"""The streaming response: SSE frames from a chat's queue, with the ``cut_after`` fault.

A cut leaves the HTTP response unfinished (no final chunk), so the server closes the connection
mid-body, which is what a client sees when a proxy or network drops a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from http import HTTPStatus

from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from botport.emulator.runner import DELTA
from botport.emulator.state import Frame


class StreamCut(Exception):
    """The ``cut_after`` fault fired: drop the connection without finishing the response."""


async def chat_frames(queue: asyncio.Queue[Frame | None], cut_after: int | None) -> AsyncIterator[bytes]:
    deltas = 0
    while True:
        item = await queue.get()
        if item is None:
            return
        name, frame = item
        yield frame
        if name == DELTA:
            deltas += 1
            if cut_after is not None and deltas >= cut_after:
                raise StreamCut


async def _next_frame(frames: AsyncIterator[bytes]) -> bytes:
    return await frames.__anext__()


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(self, frames: AsyncIterator[bytes]) -> None:
        self.frames = frames
        self.status_code = 200
        self.background = None
        self.body = b""
        self.raw_headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        disconnected = asyncio.create_task(_wait_for_disconnect(receive))
        next_frame: asyncio.Task[bytes] | None = None
        try:
            while True:
                next_frame = asyncio.create_task(_next_frame(self.frames))
                await asyncio.wait({next_frame, disconnected}, return_when=asyncio.FIRST_COMPLETED)
                if not next_frame.done():  # the client went away: stop listening to the chat
                    next_frame.cancel()
                    return
                try:
                    frame = next_frame.result()
                except StopAsyncIteration:
                    break
                except StreamCut:
                    return
                await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            return  # the connection broke while sending
        finally:
            # Also when this response is cancelled: leave no task behind whose error nobody reads.
            for task in (disconnected, next_frame):
                if task is not None and not task.done():
                    task.cancel()
            for task in (disconnected, next_frame):
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, StreamCut):
                        await task


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def proxy_error_page(status: int) -> HTMLResponse:
    """What a reverse proxy in front of Coze answers on a 5xx: HTML, no envelope."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    html = (
        f"<html><head><title>{status} {phrase}</title></head>"
        f"<body><h1>{status} {phrase}</h1><p>The upstream server is not available.</p></body></html>"
    )
    return HTMLResponse(html, status_code=status)
