"""The text of a turn: refused when it is not valid Unicode, a conversation's title made of it, and a
reason made into a sentence of a message."""

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


# What already ends a sentence, in English and in Chinese.
_SENTENCE_ENDS = (".", "!", "?", "…", "。", "！", "？")


def sentence(reason: str) -> str:
    """``reason`` as one sentence of a longer message: ended by one full stop, its own if it has one.
    Coze's reasons often end with a period ("... unavailable."), and a message that added its own after
    them said ".." ."""
    text = reason.strip()
    if text.endswith("..") and not text.endswith("..."):
        text = text.rstrip(".") + "."
    return text if text.endswith(_SENTENCE_ENDS) else f"{text}."
