"""Server-Sent Events, both ways: the decoder that reads a stream from bytes (Coze's, or botport's
own in the terminal), and the one frame writer every botport stream uses.

Decoding follows the WHATWG spec (HTML § 9.2.6 "Interpreting an event stream"). Why not
``response.aiter_lines()`` or ``str.splitlines()``: both also split on U+2028, U+2029, U+0085 and
friends, which may sit raw inside a JSON ``data:`` line. The spec ends a line on CR, LF or CRLF only,
and a CRLF may arrive split across two chunks. Bytes are decoded as UTF-8 incrementally, so a
character split across chunks is decoded whole.

Writing is the mirror of that rule: ``data:`` is JSON with every non-ASCII character escaped, so no
client's line splitter can break a frame.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

# A quiet stream says so this often (a comment frame), so that proxies and clients keep it open.
KEEPALIVE_SECONDS = 15.0
KEEPALIVE_FRAME = b": ping\n\n"


def frame(data: Mapping[str, Any], *, event: str | None = None, seq: int | None = None) -> bytes:
    """One frame: ``id:`` when ``seq`` is given (the number to resume after), ``event:`` when named
    (a client that reads none sees ``message``), and one ``data:`` line of ASCII JSON."""
    payload = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    head = f"id: {seq}\n" if seq is not None else ""
    if event is not None:
        head += f"event: {event}\n"
    return f"{head}data: {payload}\n\n".encode()


# --- decoding ---------------------------------------------------------------------------------------

_BOM = "\ufeff"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event. ``event`` is ``"message"`` when the stream named none."""

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


class SSEDecoder:
    """Feed it chunks of bytes; it returns the events completed by each chunk.

    An event is dispatched on a blank line. An event still incomplete at the end of the stream is
    dropped, as the spec requires, so a cut stream never yields half an event.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # text after the last line break
        self._skip_lf = False  # the last chunk ended in CR: a leading LF belongs to that break
        self._at_start = True  # a BOM is stripped only at the very start of the stream
        self._event = ""
        self._data: list[str] = []
        self._last_id = ""
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str:
        return self._last_id

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._utf8.decode(chunk)
        if self._at_start and text:
            self._at_start = False
            if text.startswith(_BOM):
                text = text[1:]
        events: list[ServerSentEvent] = []
        for line in self._lines(text):
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def _lines(self, text: str) -> list[str]:
        """Complete lines in ``self._pending + text``; the rest stays pending."""
        if self._skip_lf and text:
            if text[0] == "\n":
                text = text[1:]
            self._skip_lf = False
        if "\r" not in text:  # the usual case (LF only): one split, no regex
            lines = text.split("\n")
            if len(lines) == 1:
                self._pending += text
                return []
            lines[0] = self._pending + lines[0]
            self._pending = lines.pop()
            return lines
        lines = []
        start = 0
        for match in _LINE_BREAK.finditer(text):
            lines.append(text[start : match.start()])
            start = match.end()
            if match.group() == "\r" and start == len(text):
                self._skip_lf = True  # the LF of this CRLF may come with the next chunk
        if lines:
            lines[0] = self._pending + lines[0]
            self._pending = text[start:]
        else:
            self._pending += text
        return lines

    def _process_line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._last_id = value
        elif field == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        # Any other field is ignored.
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return ServerSentEvent(
            event=event or "message", data="\n".join(data), id=self._last_id, retry=self._retry
        )


async def aiter_sse(byte_iter: AsyncIterable[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Decode an async stream of byte chunks into events, as they complete."""
    decoder = SSEDecoder()
    async for chunk in byte_iter:
        for event in decoder.feed(chunk):
            yield event
