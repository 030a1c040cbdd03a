"""What the edges hold of a turn: the request that starts one, the handle they watch it by, and the
result they render once it has ended."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from botport.chat.attachments import RemoteFile
from botport.chat.events import TurnCompleted, TurnFailed
from botport.identity import Identity
from botport.store.attachments import AttachmentRecord
from botport.store.records import ConversationRecord, MessageRecord
from botport.store.turns import BranchPoint, NewConversation
from botport.store.types import new_id


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """Who asks what in which conversation."""

    identity: Identity
    conversation_id: str
    content: str
    # Earlier (role, content) turns ("user" | "assistant"), sent before the question only while the
    # conversation has no Coze conversation yet (an OpenAI client's history); then Coze keeps context.
    earlier: tuple[tuple[str, str], ...] = ()
    # The client's Idempotency-Key, and a digest of what the request asked (see :func:`fingerprint`).
    idempotency_key: str | None = None
    fingerprint: str = ""
    # The conversation does not exist yet: the turn's start creates it (id ``conversation_id``).
    new_conversation: NewConversation | None = None
    # A new version of a message (botport.chat.branches): where its branch starts; ``store_question``
    # False: it asks a stored question again (a regenerated answer).
    branch: BranchPoint | None = None
    store_question: bool = True
    # The caller's uploads the question carries (botport.chat.attachments), sent to Coze as the parts of
    # an ``object_string`` question; with them ``content`` may be empty. A stored question links them.
    attachments: tuple[AttachmentRecord, ...] = ()
    # Files by https URL (an OpenAI client's image_url): handed to Coze as ``file_url``, never fetched
    # or stored by botport, so only the turn being asked carries them.
    remote_files: tuple[RemoteFile, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The caller's result for one tool call that a paused chat asked for."""

    tool_call_id: str
    output: str


def conversation_target(found: str | NewConversation) -> tuple[str, NewConversation | None]:
    """A :class:`TurnRequest`'s ``conversation_id`` and ``new_conversation`` for an existing
    conversation's id, or for a conversation the turn creates (its id made now)."""
    if isinstance(found, str):
        return found, None
    return new_id(), found


@dataclass(frozen=True, slots=True)
class TurnHandle:
    """A turn that a request started, or re-attached to with its Idempotency-Key (``repeated``)."""

    answer: MessageRecord
    conversation: ConversationRecord
    user_message_id: str | None
    repeated: bool = False

    @property
    def message_id(self) -> str:
        return self.answer.id


@dataclass(frozen=True, slots=True)
class TurnResult:
    """A turn run to its end: the stored answer, and the end event (why it ended)."""

    message: MessageRecord
    end: TurnCompleted | TurnFailed

    @property
    def ok(self) -> bool:
        return isinstance(self.end, TurnCompleted)


def fingerprint(edge: str, request: object) -> str:
    """What a request asked, as a digest: a repeated Idempotency-Key must come with the same one."""
    canonical = json.dumps([edge, request], sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
