"""Typed events of a Coze chat stream (``POST /v3/chat`` with ``stream: true``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botport.upstream.models import Chat, LastError, Message


class ChatEventType(StrEnum):
    CHAT_CREATED = "conversation.chat.created"
    CHAT_IN_PROGRESS = "conversation.chat.in_progress"
    MESSAGE_DELTA = "conversation.message.delta"
    MESSAGE_COMPLETED = "conversation.message.completed"
    AUDIO_DELTA = "conversation.audio.delta"
    CHAT_COMPLETED = "conversation.chat.completed"
    CHAT_FAILED = "conversation.chat.failed"
    CHAT_REQUIRES_ACTION = "conversation.chat.requires_action"
    # Not documented for the HTTP API (it is a name from Coze's websocket API); the emulator sends it
    # when a streamed chat is canceled.
    CHAT_CANCELED = "conversation.chat.canceled"
    ERROR = "error"
    DONE = "done"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        return cls.UNKNOWN


_CHAT_EVENTS = {
    ChatEventType.CHAT_CREATED,
    ChatEventType.CHAT_IN_PROGRESS,
    ChatEventType.CHAT_COMPLETED,
    ChatEventType.CHAT_FAILED,
    ChatEventType.CHAT_REQUIRES_ACTION,
    ChatEventType.CHAT_CANCELED,
}
_MESSAGE_EVENTS = {ChatEventType.MESSAGE_DELTA, ChatEventType.MESSAGE_COMPLETED, ChatEventType.AUDIO_DELTA}


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """One decoded stream event. Exactly one of ``chat`` / ``message`` / ``error`` is set for the
    known kinds; ``UNKNOWN`` events keep their name in ``name`` and their raw ``data``."""

    type: ChatEventType
    name: str
    chat: Chat | None = None
    message: Message | None = None
    error: LastError | None = None
    data: str = ""

    @property
    def is_chat_event(self) -> bool:
        return self.type in _CHAT_EVENTS

    @property
    def is_message_event(self) -> bool:
        return self.type in _MESSAGE_EVENTS
