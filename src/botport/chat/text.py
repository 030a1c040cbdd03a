"""The text of a turn: refused when it is not valid Unicode, and a conversation's title made of it."""

from __future__ import annotations

from botport.errors import BadRequestError


def require_unicode(*texts: str) -> None:
    """JSON may carry a lone UTF-16 surrogate (``"\\ud800"``), which no database or client can take,
    or a NUL (``"\\u0000"``), which PostgreSQL refuses in text: refused before anything is stored."""
    for text in texts:
        if "\x00" in text:
            raise BadRequestError("the text holds a NUL character (U+0000)", code="invalid_text")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequestError(
                "the text holds a lone UTF-16 surrogate, which is not valid Unicode text",
                code="invalid_text",
            ) from None


def title_from(content: str, limit: int = 60) -> str:
    """A conversation title from its first question: one line, at most ``limit`` characters."""
    line = " ".join(content.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
