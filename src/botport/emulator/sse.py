"""Server-Sent Events as Coze writes them: ``event:NAME\\ndata:JSON\\n\\n`` (no space after the colon).

JSON is compact and keeps non-ASCII text raw (UTF-8), as Coze does. U+2028 and U+2029 are still
escaped (Go's encoder, which Coze uses, does the same): some clients split lines on them.
"""

from __future__ import annotations

import json

DONE_DATA = "[DONE]"


def dumps(data: object) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def encode_event(name: str, data: object) -> bytes:
    """One SSE frame. ``data`` is JSON-encoded, so it never holds a raw line break."""
    return f"event:{name}\ndata:{dumps(data)}\n\n".encode()


def encode_done() -> bytes:
    return encode_event("done", DONE_DATA)
