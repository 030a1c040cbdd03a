"""The history a new Coze conversation starts with: the stored messages of the branch being read, before
the question, sent once as ``additional_messages``. For a conversation Coze does not know (yet): a new
branch (an edited question, a regenerated answer), an imported conversation, or one Coze lost."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from botport.chat.turn import StreamOpener
from botport.store import repository as repo
from botport.store.db import Database
from botport.store.records import MessageRecord
from botport.upstream.models import EnterMessage
from botport.upstream.stream import ChatStream

# Coze takes at most 100 additional_messages: the stored turns, and the question.
MAX_SEEDED_TURNS = 99


def entered(role: str, content: str) -> EnterMessage:
    return EnterMessage.assistant_text(content) if role == "assistant" else EnterMessage.user_text(content)


async def history_before(db: Database, answer: MessageRecord) -> list[EnterMessage]:
    """The completed messages of the branch being read before ``answer``'s question (its parent), the
    newest that fit."""
    async with db.read() as conn:
        path = await repo.list_messages(conn, conversation_id=answer.conversation_id)
    ids = [m.id for m in path]
    stop = answer.parent_id if answer.parent_id in ids else answer.id
    earlier = path[: ids.index(stop)] if stop in ids else path
    turns = [entered(m.role, m.content) for m in earlier if m.status == "completed" and m.content]
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
