"""The platforms a document is written for, and what each accepts."""

from __future__ import annotations

from enum import StrEnum


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
    def text_limit(self) -> int | None:
        """GPTs cut an operation's summary/description at 300 characters (parameters at 700)."""
        return 300 if self is Target.gpts else None


def both(chinese: str, english: str) -> str:
    """One description for readers of either language (and for the agent's model)."""
    return f"{chinese} / {english}"
