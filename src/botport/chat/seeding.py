"""The history a new Coze conversation starts with: the stored messages of the branch being read, before
the question, sent once as ``additional_messages``. For a conversation Coze does not know (yet): a new
branch (an edited question, a regenerated answer), an imported conversation, or one Coze lost.

An earlier question with attachments goes as its ``object_string`` parts, naming the files Coze already
has (their ``coze_file_id``): nothing is uploaded again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from botport.chat.attachments import message_parts
from botport.chat.turn import StreamOpener
from botport.store import repository as repo
from botport.store.attachments import AttachmentRecord, attachments_of
from botport.store.db import Database
from botport.store.records import MessageRecord
from botport.upstream.models import EnterMessage
from botport.upstream.stream import ChatStream

# Coze takes at most 100 additional_messages: the stored turns, and the question.
MAX_SEEDED_TURNS = 99


def entered(role: str, content: str, attachments: Sequence[AttachmentRecord] = ()) -> EnterMessage:
    if role == "assistant":
        return EnterMessage.assistant_text(content)
    files = [a for a in attachments if a.coze_file_id]
    if not files:
        return EnterMessage.user_text(content)
    return EnterMessage.user_parts(message_parts(content, files))


async def history_before(db: Database, answer: MessageRecord) -> list[EnterMessage]:
    """The completed messages of the branch being read before ``answer``'s question (its parent), the
    newest that fit."""
    async with db.read() as conn:
        path = await repo.list_messages(conn, conversation_id=answer.conversation_id)
        ids = [m.id for m in path]
        stop = answer.parent_id if answer.parent_id in ids else answer.id
        earlier = [m for m in (path[: ids.index(stop)] if stop in ids else path) if m.status == "completed"]
        questions = [m.id for m in earlier if m.role == "user"]
        files = await conn.run_sync(attachments_of, message_ids=questions) if questions else {}
    turns = [entered(m.role, m.content, files.get(m.id, ())) for m in earlier if m.content or m.id in files]
    return turns[-MAX_SEEDED_TURNS:]


def seeded(
    db: Database,
    answer: MessageRecord,
    open_with: Callable[[list[EnterMessage]], AbstractAsyncContextManager[ChatStream]],
) -> StreamOpener:
    """An opener that reads the history to seed when the turn opens its stream (not on the request)."""

    @asynccontextmanager
    async def opener() -> AsyncIterator[ChatStream]:
        async with open_with(await history_before(db, answer)) as stream:
            yield stream

    return opener
