"""In-memory store of conversations, chats, messages and files, with Coze's wire shapes.

Ownership: everything belongs to an account (the token). A conversation also belongs to the first
``user_id`` that chats in it; another user gets "not found", never the data.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from botport.emulator.envelope import BUSY, NOT_FOUND, EmulatorError
from botport.emulator.ids import new_id, now

RUNNING = frozenset({"created", "in_progress"})
FINISHED = frozenset({"completed", "failed", "canceled"})

# An encoded SSE frame with its event name (streams count message.delta frames for ``cut_after``).
Frame = tuple[str, bytes]


@dataclass(slots=True)
class MessageRecord:
    conversation_id: str
    section_id: str
    role: str
    type: str
    content: str
    content_type: str = "text"
    bot_id: str = ""
    chat_id: str = ""
    reasoning_content: str = ""
    meta_data: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    created_at: int = field(default_factory=now)
    updated_at: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "bot_id": self.bot_id,
            "chat_id": self.chat_id,
            "section_id": self.section_id,
            "role": self.role,
            "type": self.type,
            "content": self.content,
            "content_type": self.content_type,
            "reasoning_content": self.reasoning_content,
            "meta_data": self.meta_data,
            "created_at": self.created_at,
            "updated_at": self.updated_at or self.created_at,
        }


@dataclass(slots=True)
class Usage:
    input_count: int = 0
    output_count: int = 0

    def to_wire(self) -> dict[str, int]:
        return {
            "token_count": self.input_count + self.output_count,
            "output_count": self.output_count,
            "input_count": self.input_count,
        }


@dataclass(slots=True)
class ChatRecord:
    conversation_id: str
    bot_id: str
    user_id: str
    section_id: str
    meta_data: dict[str, str] = field(default_factory=dict)
    status: str = "in_progress"
    id: str = field(default_factory=new_id)
    created_at: int = field(default_factory=now)
    completed_at: int | None = None
    failed_at: int | None = None
    last_error: tuple[int, str] = (0, "")
    usage: Usage = field(default_factory=Usage)
    required_action: dict[str, Any] | None = None
    messages: list[MessageRecord] = field(default_factory=list)  # what the bot produced, in order
    subscribers: list[asyncio.Queue[Frame | None]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def to_wire(self, **override: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "bot_id": self.bot_id,
            "created_at": self.created_at,
            "last_error": {"code": self.last_error[0], "msg": self.last_error[1]},
            "meta_data": self.meta_data,
            "status": self.status,
            "usage": self.usage.to_wire(),
            "section_id": self.section_id,
        }
        if self.completed_at is not None:
            data["completed_at"] = self.completed_at
        if self.failed_at is not None:
            data["failed_at"] = self.failed_at
        if self.required_action is not None and self.status == "requires_action":
            data["required_action"] = self.required_action
        data.update(override)
        return data

    def publish(self, frame: Frame | None) -> None:
        """Hand one event (``None`` = end of stream) to every open stream of this chat."""
        for queue in self.subscribers:
            queue.put_nowait(frame)

    def subscribe(self) -> asyncio.Queue[Frame | None]:
        queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        self.subscribers.append(queue)
        return queue


@dataclass(slots=True)
class ConversationRecord:
    account: str
    bot_id: str
    meta_data: dict[str, str] = field(default_factory=dict)
    owner_user_id: str | None = None
    id: str = field(default_factory=new_id)
    created_at: int = field(default_factory=now)
    last_section_id: str = ""
    messages: list[MessageRecord] = field(default_factory=list)  # questions and answers, in order
    chat_ids: list[str] = field(default_factory=list)
    name: str = ""  # set by ``PUT /v1/conversations/{id}``
    updated_at: int = 0

    def __post_init__(self) -> None:
        self.last_section_id = (
            self.last_section_id or self.id
        )  # Coze's first section id is the conversation id

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "updated_at": self.updated_at or self.created_at,
            "meta_data": self.meta_data,
            "last_section_id": self.last_section_id,
            "connector_id": "1024",
            "name": self.name,
        }

    def section_messages(self) -> list[MessageRecord]:
        """The context the bots see: this section's messages (``clear`` starts a new section)."""
        return [m for m in self.messages if m.section_id == self.last_section_id]


@dataclass(slots=True)
class FileRecord:
    """An upload: what Coze answers about it, and what the demo bot tells (its type as the multipart
    part declared it, an image's size as its header says)."""

    account: str
    file_name: str
    size: int
    content_type: str = "application/octet-stream"
    width: int | None = None
    height: int | None = None
    id: str = field(default_factory=new_id)
    created_at: int = field(default_factory=now)

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "file_name": self.file_name, "bytes": self.size, "created_at": self.created_at}


@dataclass(slots=True)
class FeedbackRecord:
    """A like or unlike on a message (Coze has no call to read it back; tests read the store)."""

    account: str
    conversation_id: str
    message_id: str
    feedback_type: str  # "like" | "unlike"
    reason_types: list[str] = field(default_factory=list)
    comment: str = ""
    created_at: int = field(default_factory=now)


class Store:
    def __init__(self) -> None:
        self.conversations: dict[str, ConversationRecord] = {}
        self.chats: dict[str, ChatRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.feedback: dict[str, FeedbackRecord] = {}  # by message id

    def create_conversation(
        self, account: str, *, bot_id: str = "", meta_data: dict[str, str] | None = None
    ) -> ConversationRecord:
        conversation = ConversationRecord(account=account, bot_id=bot_id, meta_data=meta_data or {})
        self.conversations[conversation.id] = conversation
        return conversation

    def conversation(
        self, account: str, conversation_id: str, *, user_id: str | None = None
    ) -> ConversationRecord:
        """The account's conversation; with ``user_id``, also claim it for (or check it against) that user."""
        conversation = self.conversations.get(conversation_id)
        if conversation is None or conversation.account != account:
            raise EmulatorError(NOT_FOUND, f"conversation {conversation_id!r} not found")
        if user_id is not None:
            if conversation.owner_user_id is None:
                conversation.owner_user_id = user_id
            elif conversation.owner_user_id != user_id:
                # Same answer as for a missing one: another user learns nothing about it.
                raise EmulatorError(NOT_FOUND, f"conversation {conversation_id!r} not found")
        return conversation

    def chat(self, account: str, conversation_id: str, chat_id: str) -> ChatRecord:
        conversation = self.conversation(account, conversation_id)
        chat = self.chats.get(chat_id)
        if chat is None or chat.conversation_id != conversation.id:
            raise EmulatorError(NOT_FOUND, f"chat {chat_id!r} not found in conversation {conversation_id!r}")
        return chat

    def ensure_idle(self, conversation: ConversationRecord) -> None:
        for chat_id in conversation.chat_ids:
            if self.chats[chat_id].status in RUNNING:
                raise EmulatorError(
                    BUSY,
                    "the conversation already has a chat in progress; "
                    "wait for it to finish or cancel it before starting another",
                )

    def add_chat(self, conversation: ConversationRecord, chat: ChatRecord) -> None:
        self.chats[chat.id] = chat
        conversation.chat_ids.append(chat.id)

    def message(self, account: str, conversation_id: str, message_id: str) -> MessageRecord:
        conversation = self.conversation(account, conversation_id)
        for message in conversation.messages:
            if message.id == message_id:
                return message
        raise EmulatorError(
            NOT_FOUND, f"message {message_id!r} not found in conversation {conversation_id!r}"
        )

    def list_conversations(self, account: str, bot_id: str) -> list[ConversationRecord]:
        found = [
            c
            for c in self.conversations.values()
            if c.account == account and (not bot_id or c.bot_id == bot_id)
        ]
        return sorted(found, key=lambda c: int(c.id), reverse=True)

    def delete_conversation(self, conversation: ConversationRecord) -> None:
        """Forget a finished conversation with its chats and feedback: afterwards it is "not found"."""
        self.ensure_idle(conversation)
        del self.conversations[conversation.id]
        for chat_id in conversation.chat_ids:
            self.chats.pop(chat_id, None)
        for message in conversation.messages:
            self.feedback.pop(message.id, None)
