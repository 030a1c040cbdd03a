"""A conversation as a file: JSON (what an import takes back) or Markdown (to read), and the file's name."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from botport.api.library_schemas import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    ConversationExport,
    ExportedAttachment,
    ExportedConversation,
    ExportedError,
    ExportedMessage,
    ExportedUsage,
)
from botport.store.attachments import AttachmentRecord
from botport.store.records import ConversationRecord, MessageRecord
from botport.store.transfer import ImportedMessage

# Stored answers that a file keeps; an answer being written or waiting for tool outputs is left out.
_EXPORTED_STATUSES = ("completed", "failed", "interrupted")


def export_of(
    conversation: ConversationRecord,
    messages: Sequence[MessageRecord],
    attachments: Mapping[str, Sequence[AttachmentRecord]] | None = None,
) -> ConversationExport:
    """The file of a conversation; ``attachments``: its questions' attachments, by message id (listed
    by name and type: the file holds no file's bytes)."""
    files = attachments or {}
    return ConversationExport(
        format=EXPORT_FORMAT,
        version=EXPORT_VERSION,
        exported_at=datetime.now(UTC),
        conversation=ExportedConversation(
            title=conversation.title, bot=conversation.bot, created_at=conversation.created_at
        ),
        messages=[_exported(m, files.get(m.id, ())) for m in messages if m.status in _EXPORTED_STATUSES],
    )


def _exported(message: MessageRecord, attachments: Sequence[AttachmentRecord] = ()) -> ExportedMessage:
    usage = None
    if message.total_tokens is not None:
        usage = ExportedUsage(
            input_tokens=message.input_tokens or 0,
            output_tokens=message.output_tokens or 0,
            total_tokens=message.total_tokens,
        )
    error = None
    if message.error_code:
        error = ExportedError(code=message.error_code, message=message.error_message or "")
    return ExportedMessage(
        role=message.role,
        content=message.content,
        reasoning=message.reasoning,
        status=message.status,  # type: ignore[arg-type]  # one of _EXPORTED_STATUSES
        created_at=message.created_at,
        follow_ups=list(message.follow_ups),
        usage=usage,
        error=error,
        attachments=[
            ExportedAttachment(
                name=a.name, content_type=a.content_type, size=a.size, width=a.width, height=a.height
            )
            for a in attachments
        ],
    )


def imported_messages(body: ConversationExport) -> list[ImportedMessage]:
    """The file's messages as the store takes them; one without a time gets the import's."""
    now = datetime.now(UTC)
    return [
        ImportedMessage(
            role=m.role,
            content=_with_attachment_names(m.content, m.attachments),
            created_at=m.created_at or now,
            reasoning=m.reasoning,
            status=m.status,
            follow_ups=tuple(m.follow_ups),
            error_code=m.error.code if m.error else None,
            error_message=m.error.message if m.error else None,
            input_tokens=m.usage.input_tokens if m.usage else None,
            output_tokens=m.usage.output_tokens if m.usage else None,
            total_tokens=m.usage.total_tokens if m.usage else None,
        )
        for m in body.messages
    ]


def _with_attachment_names(content: str, attachments: Sequence[ExportedAttachment]) -> str:
    """An imported question keeps what it carried by name (the file has not the bytes)."""
    if not attachments:
        return content
    names = ", ".join(_one_line(a.name) for a in attachments)
    note = f"*(attached: {names})*"
    return f"{content}\n\n{note}" if content else note


def to_markdown(export: ConversationExport, *, bot_name: str) -> str:
    """The conversation to read: a heading per message (who, when), its thoughts folded away."""
    title = export.conversation.title or "Conversation"
    lines = [f"# {_one_line(title)}", "", f"- Bot: {_one_line(bot_name)}"]
    if export.conversation.created_at:
        lines.append(f"- Started: {_time(export.conversation.created_at)}")
    lines.append("")
    for message in export.messages:
        who = "You" if message.role == "user" else _one_line(bot_name)
        lines += ["---", "", f"### {who} · {_time(message.created_at)}", ""]
        if message.reasoning:
            lines += ["<details><summary>Thoughts</summary>", "", message.reasoning, "", "</details>", ""]
        lines += [message.content or ("" if message.attachments else "*(no text)*"), ""]
        if message.attachments:
            lines += [f"- Attached: {_attachment_line(a)}" for a in message.attachments] + [""]
        if message.status != "completed":
            reason = f": {message.error.message}" if message.error and message.error.message else ""
            lines += [
                f"*({'Stopped' if message.status == 'interrupted' else 'Failed'}{_one_line(reason)})*",
                "",
            ]
    return "\n".join(lines)


def _attachment_line(item: ExportedAttachment) -> str:
    size = f"{item.width}×{item.height}, " if item.width and item.height else ""
    return f"{_one_line(item.name)} ({item.content_type}, {size}{item.size} bytes)"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def attachment(title: str, conversation_id: str, extension: str) -> str:
    """A Content-Disposition for the file: an ASCII name for every client, and the title itself
    (RFC 6266 ``filename*``) for those that take UTF-8; nothing that names a path or breaks the header."""
    readable = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]+', " ", unicodedata.normalize("NFC", title))
    readable = _one_line(readable).strip(". ")[:80] or f"conversation-{conversation_id[:8]}"
    ascii_name = (
        re.sub(r"[^A-Za-z0-9._-]+", "-", readable).strip("-.")[:80] or f"conversation-{conversation_id[:8]}"
    )
    return (
        f'attachment; filename="{ascii_name}.{extension}"; '
        f"filename*=UTF-8''{quote(f'{readable}.{extension}', safe='')}"
    )
