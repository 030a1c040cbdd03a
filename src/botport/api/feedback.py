"""Rating an answer: ``PUT /api/conversations/{conversation_id}/messages/{message_id}/feedback``.
See docs/api.md and :mod:`botport.chat.feedback`."""

from __future__ import annotations

from fastapi import APIRouter

from botport.api.deps import IdentityDep, ServicesDep
from botport.api.responses import ErrorBody, errors
from botport.api.schemas import FeedbackPublic, FeedbackUpdate, MessageFeedback
from botport.chat.feedback import rate_answer

router = APIRouter(
    prefix="/api", tags=["chat"], responses=errors(ErrorBody, 400, 401, 403, 404, 408, 413, 422, 429)
)
NOT_RATEABLE = "Not a completed answer: a question, or an answer being written, failed or stopped"


@router.put(
    "/conversations/{conversation_id}/messages/{message_id}/feedback",
    response_model=MessageFeedback,
    responses={409: {"model": ErrorBody, "description": NOT_RATEABLE}},
)
async def rate_message(
    conversation_id: str, message_id: str, body: FeedbackUpdate, identity: IdentityDep, services: ServicesDep
) -> MessageFeedback:
    """Like or unlike a completed answer (``rating: null`` removes the rating). It is stored at once
    and sent to Coze as the message's feedback in the background, with retries."""
    message = await rate_answer(
        services.db,
        services.coze_sync,
        owner=identity.owner,
        conversation_id=conversation_id,
        message_id=message_id,
        rating=body.rating,
        comment=body.comment,
    )
    return MessageFeedback(message_id=message.id, feedback=FeedbackPublic.of(message))
