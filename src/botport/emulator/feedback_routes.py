"""Message feedback: ``POST``, ``DELETE /v1/conversations/{conversation_id}/messages/{message_id}/feedback``.

``POST`` takes ``{"feedback_type": "like" | "unlike", "reason_types": ["..."]?, "comment": "..."?}``
and replaces any earlier feedback on the message; ``DELETE`` removes it. Both answer ``data: {}``.
A message that is not in the conversation, or a conversation the token does not own, is "not found"
(4200); deleting feedback a message does not have is "not found" too. Coze has no call that reads
feedback back, so the emulator keeps it in ``Store.feedback`` (by message id) for tests to read,
e.g. ``app.state.emulator.store.feedback[message_id]``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botport.emulator.context import Emulator
from botport.emulator.envelope import NOT_FOUND, EmulatorError, ok
from botport.emulator.inputs import bad, json_body, optional_str
from botport.emulator.state import FeedbackRecord, MessageRecord

FEEDBACK_TYPES = ("like", "unlike")


def _reason_types(body: dict[str, Any]) -> list[str]:
    raw = body.get("reason_types")
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
        raise bad("reason_types must be a list of strings")
    return list(raw)


class FeedbackRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        path = "/v1/conversations/{conversation_id}/messages/{message_id}/feedback"
        return [Route(path, self.feedback, methods=["POST", "DELETE"])]

    async def feedback(self, request: Request) -> Response:
        account = self.emulator.account(request)
        message = self._message(request, account)
        store = self.emulator.store
        if request.method == "DELETE":
            if store.feedback.pop(message.id, None) is None:
                raise EmulatorError(NOT_FOUND, f"message {message.id!r} has no feedback to delete")
            return ok({})
        body = await json_body(request)
        feedback_type = body.get("feedback_type")
        if feedback_type not in FEEDBACK_TYPES:
            raise bad("feedback_type must be 'like' or 'unlike'")
        store.feedback[message.id] = FeedbackRecord(
            account=account,
            conversation_id=message.conversation_id,
            message_id=message.id,
            feedback_type=feedback_type,
            reason_types=_reason_types(body),
            comment=optional_str(body, "comment"),
        )
        return ok({})

    def _message(self, request: Request, account: str) -> MessageRecord:
        params = request.path_params
        return self.emulator.store.message(account, params["conversation_id"], params["message_id"])
