"""The platforms a document is written for, and what each accepts."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Target(StrEnum):
    """Where the document is pasted."""

    qingyan = "qingyan"  # Zhipu Qingyan (智谱清言) agent, API tool: OpenAPI 3.0
    gpts = "gpts"  # a GPT's actions: OpenAPI 3.1
    coze = "coze"  # a Coze plugin, "import" from OpenAPI: 3.0

    @property
    def openapi_version(self) -> str:
        # Schemas use only keywords common to 3.0 and 3.1 (no ``nullable``), so the version is all
        # that differs.
        return "3.1.0" if self is Target.gpts else "3.0.1"

    @property
    def text_limit(self) -> int:
        """The longest description or summary the platform takes, in characters. GPTs refuse an
        operation's summary or description over 300 (a parameter's over 700): every description is
        held to 300. Zhipu Qingyan and Coze publish no limit; the same 300 keeps a document importable
        there too, and short enough for the agent's model, which reads it on every call."""
        return 300


def both(chinese: str, english: str) -> str:
    """One description for readers of either language (and for the agent's model)."""
    return f"{chinese} / {english}"


ELLIPSIS = "…"
# Dropped from the end of a shortened text, before the ellipsis: spaces and the punctuation between words.
_TRAILING = " \t\n,;:/-–—.。，；：、（("


def _in_word(char: str) -> bool:
    """A character of a word that must stay whole. Not a CJK one: Chinese has no spaces, and a text
    may be cut between any two of its characters."""
    wide = "\u2e80" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" or "\uff00" <= char <= "\uffef"
    return (char.isalnum() or char in "_-'’") and not wide


def _boundary(text: str, at: int) -> bool:
    """Whether cutting ``text`` at ``at`` keeps every word whole."""
    return not (_in_word(text[at - 1]) and _in_word(text[at]))


def shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters: cut where a word ends (not mid-word) and ended by an
    ellipsis; a text that fits is returned as it is."""
    if len(text) <= limit:
        return text
    cut = limit - len(ELLIPSIS)
    at = next((i for i in range(cut, cut // 2, -1) if _boundary(text, i)), cut)  # a word longer: cut it
    return text[:at].rstrip(_TRAILING) + ELLIPSIS


def within_limit(document: Any, limit: int) -> Any:
    """``document`` with every ``description`` and ``summary`` shortened to ``limit`` characters (the
    names under ``properties`` are property names, never taken for those fields)."""
    if isinstance(document, list):
        return [within_limit(item, limit) for item in document]
    if not isinstance(document, dict):
        return document
    out: dict[str, Any] = {}
    for key, value in document.items():
        if key in ("description", "summary") and isinstance(value, str):
            out[key] = shorten(value, limit)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: within_limit(schema, limit) for name, schema in value.items()}
        else:
            out[key] = within_limit(value, limit)
    return out
