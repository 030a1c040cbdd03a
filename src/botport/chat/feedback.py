"""A user's rating of an answer (like / unlike, with an optional comment): stored here first, then
sent to Coze as the message's feedback, off the request path (:class:`botport.chat.coze_sync.CozeSync`).

Only a completed answer can be rated. An answer stored before botport kept Coze's message id (or
one of a conversation that never reached Coze) is rated here only.
"""

from __future__ import annotations

from botport.chat.coze_sync import CozeSync
from botport.errors import ConflictError, NotFoundError
from botport.store import repository as repo
from botport.store.db import Database
from botport.store.records import MessageRecord, Rating


async def rate_answer(
    db: Database,
    coze_sync: CozeSync,
    *,
    owner: str,
    conversation_id: str,
    message_id: str,
    rating: Rating | None,
    comment: str | None,
) -> MessageRecord:
    """Store the rating (None removes it) of one of the owner's answers and send it to Coze; the
    answer as stored now. 404 for a conversation or message that is not the owner's, 409 for a
    question or an answer that did not complete."""
    conversation = await db.read_op(
        lambda conn: repo.find_conversation(conn, owner=owner, conversation_id=conversation_id)
    )
    if conversation is None:
        raise NotFoundError("no such conversation", code="conversation_not_found")
    comment = (comment or "").strip() or None
    message = await db.write(
        lambda conn: repo.rate_answer(
            conn, conversation_id=conversation_id, message_id=message_id, rating=rating, comment=comment
        )
    )
    if message is None:
        raise NotFoundError("no such message in this conversation", code="message_not_found")
    if message.role != "assistant":
        raise ConflictError("only the bot's answers can be rated, not a question", code="not_an_answer")
    if message.status != "completed":
        raise ConflictError(
            f"only a completed answer can be rated; this one is {message.status}", code="answer_not_completed"
        )
    # The answer's own Coze conversation: after an edit, an earlier answer lives in another branch's.
    coze_conversation_id = message.coze_conversation_id or conversation.coze_conversation_id
    if coze_conversation_id and message.upstream_message_id:
        coze_sync.rate_message(
            conversation_id=coze_conversation_id,
            message_id=message.upstream_message_id,
            rating=message.feedback,
            comment=message.feedback_comment,
        )
    return message
