"""botport's own SSE frames (see docs/api.md): one ``event:`` and one ``data:`` line of ASCII JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi.responses import StreamingResponse

KEEPALIVE_FRAME = b": ping\n\n"
MESSAGE_ID_HEADER = "X-Botport-Message-Id"  # the answer's id: resume at /api/messages/{id}/events

SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
}


def frame(event: str, data: Mapping[str, Any], seq: int | None = None) -> bytes:
    """One frame; ``seq`` becomes its ``id:`` (the number to resume after)."""
    # ensure_ascii keeps U+2028/U+2029 escaped, so no client's line splitter can break a frame.
    payload = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {event}\ndata: {payload}\n\n".encode()


def sse_response(
    frames: AsyncIterator[bytes], *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> StreamingResponse:
    return StreamingResponse(
        frames,
        status_code=status_code,
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **(headers or {})},
    )
