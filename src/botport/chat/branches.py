"""Editing a question and regenerating an answer: the turn that makes a new version of a message.

The earlier versions stay (the reader switches between them, :mod:`botport.store.branches`). Coze keeps
one line of messages per conversation, so a new version cannot continue the Coze conversation that
holds the old one: its turn starts a new Coze conversation seeded with the branch's history, sent once
as ``additional_messages`` (:mod:`botport.chat.seeding`) — the way the OpenAI edge starts a conversation
from a client's history.
"""

from __future__ import annotations

from dataclasses import dataclass

from botport.errors import BadRequestError, NotFoundError
from botport.identity import Identity
from botport.store import repository as repo
from botport.store.db import Database
from botport.store.records import MessageRecord
from botport.store.thread import conversation_rows
from botport.store.turns import BranchPoint


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What a new version's turn asks: the question, and where the branch starts."""

    question: str
    branch: BranchPoint
    store_question: bool  # False: the question is the stored one, asked again (a regenerated answer)


async def edited_question(
    db: Database, identity: Identity, conversation_id: str, message_id: str, content: str
) -> NewVersion:
    """A new version of the question ``message_id``, with ``content``: it follows the same message."""
    target, _ = await _message(db, identity, conversation_id, message_id)
    if target.role != "user":
        raise BadRequestError("only a question can be edited", code="not_a_question", status=409)
    return NewVersion(content, BranchPoint(target.parent_id), store_question=True)


async def regenerated_answer(
    db: Database, identity: Identity, conversation_id: str, message_id: str
) -> NewVersion:
    """A new version of the answer ``message_id``: its question asked again, not stored again."""
    target, rows = await _message(db, identity, conversation_id, message_id)
    question = next((row for row in rows if row.id == target.parent_id), None)
    if target.role != "assistant" or question is None or question.role != "user":
        raise BadRequestError(
            "only an answer to a question can be regenerated (not a question, nor a tool call's result)",
            code="not_an_answer",
            status=409,
        )
    if target.status == "streaming":
        raise BadRequestError("this answer is still being written", code="answer_streaming", status=409)
    return NewVersion(question.content, BranchPoint(question.id), store_question=False)


async def _message(
    db: Database, identity: Identity, conversation_id: str, message_id: str
) -> tuple[MessageRecord, list[MessageRecord]]:
    async with db.read() as conn:
        conversation = await repo.get_conversation(
            conn, owner=identity.owner, conversation_id=conversation_id
        )
        if conversation is None:
            raise NotFoundError("no such conversation", code="conversation_not_found")
        rows = await conn.run_sync(conversation_rows, conversation_id=conversation_id)
    target = next((row for row in rows if row.id == message_id), None)
    if target is None:
        raise NotFoundError("no such message in this conversation", code="message_not_found")
    return target, rows
