"""Reading and checking request input. Anything wrong is a 4000 envelope that says what and where."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from botport.emulator.envelope import BAD_REQUEST, EmulatorError
from botport.emulator.faults import FAULT_HEADER, FaultHeaderError, parse_fault_header
from botport.emulator.plan import AttachedFile, TurnContext
from botport.emulator.state import FileRecord, MessageRecord, Store

MAX_ADDITIONAL_MESSAGES = 100
_ROLES = {"user": "question", "assistant": "answer"}
_CONTENT_TYPES = {"text", "object_string", "card"}
_PART_TYPES = {"text", "image", "file", "audio"}


def bad(msg: str) -> EmulatorError:
    return EmulatorError(BAD_REQUEST, msg)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad("the request body must be a JSON object")
    return body


def fault_overrides(request: Request) -> dict[str, float | int]:
    try:
        return parse_fault_header(request.headers.get(FAULT_HEADER))
    except FaultHeaderError as exc:
        raise bad(f"X-Emulator-Fault: {exc}") from None


def param(request: Request, body: dict[str, Any], name: str) -> str:
    """A required id from the query string (or, as some clients send it, the body)."""
    value = request.query_params.get(name) or body.get(name)
    if not isinstance(value, str) or not value:
        raise bad(f"{name} is required")
    return value


def optional_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad(f"{name} must be a string")
    return value


def meta_data(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 16:
        raise bad(f"{where} must be an object of at most 16 string pairs")
    for key, item in value.items():
        if not (isinstance(item, str) and 1 <= len(key) <= 64 and 1 <= len(item) <= 512):
            raise bad(f"{where}: keys need 1-64 characters and values 1-512 characters")
    return dict(value)


def content_parts(content: str, store: Store, account: str, where: str) -> list[dict[str, Any]]:
    """The parts of ``object_string`` content, checked (file ids must be this account's uploads)."""
    try:
        parts = json.loads(content)
    except ValueError:
        raise bad(f"{where}: object_string content must be a JSON list of parts") from None
    if not isinstance(parts, list) or not parts:
        raise bad(f"{where}: object_string content must be a non-empty JSON list of parts")
    for part in parts:
        if not isinstance(part, dict) or part.get("type") not in _PART_TYPES:
            raise bad(f"{where}: each part needs a type among {sorted(_PART_TYPES)}")
        if part["type"] == "text":
            if not isinstance(part.get("text"), str):
                raise bad(f"{where}: a text part needs a text string")
            continue
        file_id, file_url = part.get("file_id"), part.get("file_url")
        if not file_id and not file_url:
            raise bad(f"{where}: a {part['type']} part needs file_id or file_url")
        known = store.files.get(str(file_id)) if file_id else None
        if file_id and (known is None or known.account != account):
            raise bad(f"{where}: file_id {file_id!r} was not uploaded")
    return parts


@dataclass(frozen=True, slots=True)
class MessageInput:
    role: str
    type: str
    content: str
    content_type: str
    meta_data: dict[str, str]

    def record(
        self, conversation_id: str, section_id: str, *, chat_id: str = "", bot_id: str = ""
    ) -> MessageRecord:
        return MessageRecord(
            conversation_id=conversation_id,
            section_id=section_id,
            role=self.role,
            type=self.type,
            content=self.content,
            content_type=self.content_type,
            meta_data=self.meta_data,
            chat_id=chat_id,
            bot_id=bot_id,
        )


def message_input(raw: object, where: str, store: Store, account: str) -> MessageInput:
    if not isinstance(raw, dict):
        raise bad(f"{where} must be an object")
    role = raw.get("role")
    if role not in _ROLES:
        raise bad(f"{where}.role must be 'user' or 'assistant'")
    content, content_type = raw.get("content"), raw.get("content_type") or "text"
    if not isinstance(content, str) or not content:
        raise bad(f"{where}.content must be a non-empty string")
    if content_type not in _CONTENT_TYPES:
        raise bad(f"{where}.content_type must be one of {sorted(_CONTENT_TYPES)}")
    if content_type == "object_string":
        content_parts(content, store, account, where)
    type_ = raw.get("type") or _ROLES[role]
    if not isinstance(type_, str):
        raise bad(f"{where}.type must be a string")
    return MessageInput(
        role, type_, content, content_type, meta_data(raw.get("meta_data"), f"{where}.meta_data")
    )


def message_inputs(raw: object, name: str, store: Store, account: str) -> list[MessageInput]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_ADDITIONAL_MESSAGES:
        raise bad(f"{name} must be a list of at most {MAX_ADDITIONAL_MESSAGES} messages")
    return [message_input(item, f"{name}[{i}]", store, account) for i, item in enumerate(raw)]


def question_text(
    message: MessageRecord, files: Mapping[str, FileRecord] | None = None
) -> tuple[str, tuple[AttachedFile, ...]]:
    """The text of a question and its attachments, described from the uploads they name."""
    if message.content_type != "object_string":
        return message.content, ()
    try:
        parts = json.loads(message.content)
    except ValueError:
        return message.content, ()
    if not isinstance(parts, list):
        return message.content, ()
    parts = [p for p in parts if isinstance(p, dict)]
    texts = [str(p.get("text", "")) for p in parts if p.get("type") == "text"]
    attached = tuple(_attached(p, files or {}) for p in parts if p.get("type") != "text")
    return "\n".join(texts), attached


def _attached(part: dict[str, Any], files: Mapping[str, FileRecord]) -> AttachedFile:
    kind = str(part.get("type"))
    upload = files.get(str(part.get("file_id") or ""))
    if upload is None:
        return AttachedFile(kind, url=str(part.get("file_url") or ""))
    return AttachedFile(
        kind,
        name=upload.file_name,
        content_type=upload.content_type,
        size=upload.size,
        width=upload.width,
        height=upload.height,
    )


def turn_context(
    history: list[MessageRecord],
    *,
    files: Mapping[str, FileRecord] | None = None,
    tool_outputs: tuple[tuple[str, str], ...] = (),
    tool_arguments: tuple[str, ...] = (),
) -> TurnContext:
    """What the bot knows: the section's questions, the last one being this turn's (``files``: the
    uploads its parts may name)."""
    questions = [question_text(m, files) for m in history if m.role == "user"]
    text, attached = questions[-1] if questions else ("", ())
    return TurnContext(
        question=text,
        turn=len(questions),
        previous_questions=tuple(q for q, _ in questions[:-1]),
        attachments=len(attached),
        files=attached,
        tool_outputs=tool_outputs,
        tool_arguments=tool_arguments,
    )
