"""What a scripted bot decides for a turn (:class:`TurnPlan`) from what it knows (:class:`TurnContext`).

Bots are pure functions from context to plan; :mod:`botport.emulator.runner` plays the plan out as
Coze events with the delays and faults in force.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Ending = Literal["completed", "failed", "error", "requires_action"]


@dataclass(frozen=True, slots=True)
class AttachedFile:
    """An image, file or audio part of the question: an upload (by ``file_id``) or a URL."""

    kind: str  # "image" | "file" | "audio"
    name: str = ""
    content_type: str = ""
    size: int = 0
    width: int | None = None
    height: int | None = None
    url: str = ""  # a file_url part: the emulator never fetches it


@dataclass(frozen=True, slots=True)
class TurnContext:
    question: str  # the text of the user's question (text parts of multimodal content)
    turn: int  # 1 for the first question in this conversation section
    previous_questions: tuple[str, ...] = ()  # oldest first, without this one
    attachments: int = 0  # image/file/audio parts in the question
    files: tuple[AttachedFile, ...] = ()  # those parts, described
    tool_outputs: tuple[tuple[str, str], ...] = ()  # (tool_call_id, output) after submit_tool_outputs
    tool_arguments: tuple[str, ...] = ()  # the arguments JSON of the calls those outputs answer


@dataclass(frozen=True, slots=True)
class ToolCallPlan:
    name: str
    arguments: str  # a JSON string, as Coze sends it


@dataclass(frozen=True, slots=True)
class TurnPlan:
    answer: str = ""
    reasoning: str = ""
    follow_ups: tuple[str, ...] = ()
    ending: Ending = "completed"
    stop_after: int = 0  # for "failed" / "error": message.delta events sent before the ending
    error: tuple[int, str] = (5000, "internal error")  # last_error / error event for those endings
    tool_calls: tuple[ToolCallPlan, ...] = ()  # for "requires_action"
    tool_responses: tuple[str, ...] = ()  # tool_response messages to emit before the answer
    delta_delay: float | None = None  # a script's own pace (``/slow``); the request's header still wins


_PIECE = re.compile(r"\S+\s*|\s+")


def word_chunks(text: str) -> list[str]:
    """Split into word-sized pieces whose concatenation is exactly ``text``."""
    return _PIECE.findall(text)
