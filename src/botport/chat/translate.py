"""Coze stream events -> domain events, accumulating the answer as it goes.

Pure and synchronous, so every rule (pick messages by type, several answers per turn, follow-ups,
``requires_action``) is tested without a network.

An answer is text, but Coze may also answer with ``object_string`` parts (an image a plugin made) or a
``card``: their JSON is never shown. Parts become Markdown — text as it is, an image as a link
``[image](url)`` (the page loads no third-party image without a click), a file as a link with its
name — and a card becomes a note that it cannot be shown here. Such a message streams no deltas of its
JSON; its text arrives as one delta when it completes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from botport.chat.events import (
    DomainEvent,
    MessageCompleted,
    ReasoningDelta,
    TextDelta,
    ToolCallRequest,
    ToolCallsRequired,
    Usage,
)
from botport.upstream.events import ChatEvent, ChatEventType
from botport.upstream.models import MessageType

ANSWER_SEPARATOR = "\n\n"


@dataclass
class TurnState:
    """What a turn has produced so far; it is what gets stored, also when the turn fails."""

    chat_id: str | None = None
    coze_conversation_id: str | None = None
    content: str = ""
    reasoning: str = ""
    follow_ups: list[str] = field(default_factory=list)
    usage: Usage | None = None
    tool_calls: tuple[ToolCallRequest, ...] = ()
    finished: bool = False
    requires_action: bool = False
    canceled: bool = False  # Coze ended the chat as canceled (e.g. a cancel sent by another instance)
    # Coze's id of the last completed answer message: what a rating of the answer is sent to.
    answer_message_id: str | None = None
    # Content of the answer message being streamed (one turn may hold several answers).
    _current_answer: str = ""
    _completed_answers: list[str] = field(default_factory=list)

    def apply(self, event: ChatEvent) -> list[DomainEvent]:
        """Fold one upstream event into the state; return the domain events it gives."""
        if event.chat is not None and event.is_chat_event:
            self.chat_id = event.chat.id or self.chat_id
            self.coze_conversation_id = event.chat.conversation_id or self.coze_conversation_id
        if event.type is ChatEventType.MESSAGE_DELTA and event.message is not None:
            return self._delta(event)
        if event.type is ChatEventType.MESSAGE_COMPLETED and event.message is not None:
            return self._completed(event)
        if event.type is ChatEventType.CHAT_COMPLETED and event.chat is not None:
            usage = event.chat.usage
            if usage is not None:
                self.usage = Usage(usage.input_count, usage.output_count, usage.token_count)
            self.finished = True
        if event.type is ChatEventType.CHAT_CANCELED:
            self.canceled = True
        if event.type is ChatEventType.CHAT_REQUIRES_ACTION and event.chat is not None:
            action = event.chat.required_action
            calls = action.submit_tool_outputs.tool_calls if action else []
            self.tool_calls = tuple(
                ToolCallRequest(id=c.id, name=c.function.name, arguments=c.function.arguments) for c in calls
            )
            self.finished = True
            self.requires_action = True
            return [ToolCallsRequired(chat_id=self.chat_id or event.chat.id, tool_calls=self.tool_calls)]
        return []

    def _delta(self, event: ChatEvent) -> list[DomainEvent]:
        message = event.message
        assert message is not None
        if message.type is not MessageType.ANSWER:
            return []
        out: list[DomainEvent] = []
        if message.reasoning_content:
            self.reasoning += message.reasoning_content
            out.append(ReasoningDelta(message.reasoning_content))
        if message.content and _is_text(message.content_type):
            if not self._current_answer and self._completed_answers:
                # A new answer message after a completed one: keep them apart.
                self.content += ANSWER_SEPARATOR
                out.append(TextDelta(ANSWER_SEPARATOR))
            self._current_answer += message.content
            self.content += message.content
            out.append(TextDelta(message.content))
        return out

    def _completed(self, event: ChatEvent) -> list[DomainEvent]:
        message = event.message
        assert message is not None
        if message.type is MessageType.FOLLOW_UP:
            if message.content:
                self.follow_ups.append(message.content)
            return []
        if message.type is not MessageType.ANSWER:
            return []
        # The completed message is authoritative: it fixes any delta the stream lost.
        whole = answer_text(message.content, message.content_type)
        prefix = ANSWER_SEPARATOR.join(self._completed_answers)
        self._completed_answers.append(whole)
        self._current_answer = ""
        self.answer_message_id = message.id or self.answer_message_id
        streamed, self.content = self.content, prefix + (ANSWER_SEPARATOR if prefix else "") + whole
        out: list[DomainEvent] = []
        if (
            not _is_text(message.content_type)
            and self.content.startswith(streamed)
            and self.content != streamed
        ):
            out.append(TextDelta(self.content[len(streamed) :]))  # its text, never streamed as JSON
        if message.reasoning_content and len(message.reasoning_content) >= len(self.reasoning):
            self.reasoning = message.reasoning_content
        out.append(MessageCompleted(content=self.content, reasoning=self.reasoning))
        return out


def _is_text(content_type: str) -> bool:
    return content_type in ("text", "")


def answer_text(content: str, content_type: str) -> str:
    """An answer message's content as Markdown text (see the module's docstring)."""
    if _is_text(content_type):
        return content
    if content_type == "card":
        return "*(The bot sent a card, which cannot be shown here.)*"
    try:
        parts = json.loads(content)
    except ValueError:
        return content
    if not isinstance(parts, list):
        return content
    shown = [_part_text(part) for part in parts if isinstance(part, dict)]
    return "\n\n".join(text for text in shown if text)


def _part_text(part: dict[str, Any]) -> str:
    kind = part.get("type")
    if kind == "text":
        return str(part.get("text") or "")
    label = "image" if kind == "image" else str(part.get("name") or part.get("file_name") or kind or "file")
    url = str(part.get("file_url") or part.get("url") or "")
    if not re.match(r"^https?://", url, re.IGNORECASE):
        return f"*({_escape(label)}: no address given)*"
    return f"[{_escape(label)}]({_link(url)})"


def _escape(text: str) -> str:
    """Text inside a link's brackets, with Markdown's punctuation escaped."""
    return re.sub(r"([\\`*_\[\]()<>#!|~])", r"\\\1", " ".join(text.split()))


def _link(url: str) -> str:
    """A URL as a Markdown link destination: spaces, parentheses and angle brackets percent-encoded."""
    return re.sub(r"[\s()<>]", lambda m: f"%{ord(m.group()):02X}", url)
