"""The answer rendered while it streams (header ``X-Botport-Render: html``): sanitised HTML snapshots.

The page would otherwise show raw markdown (pipes, fences, ``**``) until the answer ends. Deltas still
go out the moment they arrive; beside them, at most one snapshot per :data:`SNAPSHOT_SECONDS` renders the
text so far (:func:`botport.render.render_markdown`, the one sanitising gate) in a worker thread, so a
render never holds up a delta or the event loop, and renders each finished block once
(:class:`Incremental`): a snapshot costs the new text and the last block, not the whole answer. Each
snapshot says the sequence number of the last delta it covers; the page shows it plus the deltas after
that number.

``message.completed`` carries the final render (the same function of the same text), so the last
snapshot and the final answer agree. A watcher that resumes after sequence number ``n`` reads the turn
from its start and sends nothing up to ``n``; the log joins deltas that wait, so the first replayed
delta past ``n`` may also hold text before it: that one is not sent either, a fresh snapshot (numbered
past it) shows it, and the frames after it follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from botport.chat.eventlog import Entry, Keepalive
from botport.chat.events import MessageCompleted, ReasoningDelta, TextDelta
from botport.render import render_markdown

SNAPSHOT_SECONDS = 0.12
"""At most one snapshot per this many seconds, and one soon after the deltas pause."""

CATCH_UP_SECONDS = 0.02
"""A resumed watcher: once the replay up to its number pauses this long, its snapshot is rendered."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The answer's sanitised HTML up to and including the delta numbered ``seq``."""

    html: str
    seq: int


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_CONTINUES = re.compile(r"[ \t\-*+>|\[\d]")  # a list, quote, table, indented code, or link definition


class Incremental:
    """Renders a growing text, each finished block once: the text up to the last safe cut (a blank line
    outside a fence, before a line that cannot continue a list, quote, table or definition) is rendered
    in pieces that never change; each call renders only the new pieces and the unfinished tail. So a
    snapshot costs O(new text + the last block), not O(answer). Each piece is sanitised on its own by
    :func:`render_markdown`; for ordinary answers the pieces join to the whole text's render (where they
    do not, e.g. a footnote defined later, the final render differs in that block alone)."""

    def __init__(self, render: Callable[[str], str] = render_markdown) -> None:
        self._render = render
        self._done = 0  # chars of the text rendered into _html for good
        self._html = ""

    def __call__(self, text: str) -> str:
        cut = self._last_cut(text)
        if cut > self._done:
            self._html += self._render(text[self._done : cut])
            self._done = cut
        return self._html + self._render(text[self._done :])

    def _last_cut(self, text: str) -> int:
        fence = ""
        cut = self._done
        position = self._done
        blank = False
        for line in text[self._done :].splitlines(keepends=True):
            if not line.endswith(("\n", "\r")):
                break  # the unfinished last line
            stripped = line.strip()
            opened = _FENCE.match(line)
            if fence:
                if opened and opened.group(1).startswith(fence) and not line[opened.end() :].strip():
                    fence = ""
            elif opened:
                fence = opened.group(1)
            elif blank and stripped and not _CONTINUES.match(line):
                cut = position
            if not fence:
                blank = not stripped
            position += len(line)
        return cut


async def with_snapshots(
    events: AsyncIterator[Entry | Keepalive],
    *,
    after: int = 0,
    interval: float = SNAPSHOT_SECONDS,
    render: Callable[[str], str] = render_markdown,
) -> AsyncIterator[Entry | Keepalive | Snapshot]:
    """``events`` (read from the turn's start) with snapshots among them; entries up to ``after`` are
    only read into the text, not passed on. Always closes ``events``."""
    loop = asyncio.get_running_loop()
    text, text_seq, shown = "", 0, ""
    due = 0.0  # loop time from which the next render may start
    catching_up = after > 0
    pending: asyncio.Future[Entry | Keepalive] | None = None
    rendering: asyncio.Future[str] | None = None
    rendering_seq = 0
    renderer = Incremental(render)
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            waiting: set[asyncio.Future[object]] = {pending}  # type: ignore[arg-type]
            if rendering is not None:
                waiting.add(rendering)  # type: ignore[arg-type]
            timeout: float | None = None
            if catching_up:
                timeout = CATCH_UP_SECONDS
            elif rendering is None and text != shown:
                timeout = max(0.0, due - loop.time())
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                catching_up = False  # the replay paused: the text so far is all there is
            if rendering is not None and rendering.done():
                html = rendering.result()
                rendering = None
                yield Snapshot(html, rendering_seq)
            if pending.done():
                try:
                    item = pending.result()
                except StopAsyncIteration:
                    break
                pending = None
                forward = True
                if not isinstance(item, Keepalive):
                    seq, event = item
                    if isinstance(event, TextDelta):
                        text, text_seq = text + event.text, seq
                    elif isinstance(event, MessageCompleted):
                        # The message's own frame has the final render: drop a snapshot in flight.
                        text, shown, renderer = "", "", Incremental(render)
                        if rendering is not None:
                            rendering.cancel()
                            rendering = None
                    if catching_up and (seq <= after or isinstance(event, TextDelta | ReasoningDelta)):
                        # A replayed delta past ``after`` may be joined with ones the client has: it is
                        # not sent again; the snapshot, rendered now, shows it.
                        forward, catching_up = False, seq <= after
                    else:
                        catching_up = False
                if forward:
                    yield item
            if not catching_up and rendering is None and text != shown and loop.time() >= due:
                shown, rendering_seq, due = text, text_seq, loop.time() + interval
                rendering = asyncio.ensure_future(asyncio.to_thread(renderer, text))
    finally:
        for task in (pending, rendering):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
                    await task
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
