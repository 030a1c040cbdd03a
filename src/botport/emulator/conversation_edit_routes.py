"""Rename and delete a conversation: ``PUT`` and ``DELETE /v1/conversations/{conversation_id}``.

``PUT`` takes ``{"name": "..."}`` and answers the Conversation (now with its ``name``). ``DELETE``
answers ``data: {}``; afterwards the conversation is gone: retrieve, list, its messages, a chat in
it, its chats' retrieve and a second delete all answer "not found" (4200), like any conversation
the token does not own. A conversation with a running chat cannot be deleted (4016, as for
``clear``): cancel the chat or let it finish first. Another token's conversations are "not found".
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botport.emulator.context import Emulator
from botport.emulator.envelope import ok
from botport.emulator.ids import now
from botport.emulator.inputs import bad, json_body


class ConversationEditRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        path = "/v1/conversations/{conversation_id}"
        return [Route(path, self.update_or_delete, methods=["PUT", "DELETE"])]

    async def update_or_delete(self, request: Request) -> Response:
        store = self.emulator.store
        account = self.emulator.account(request)
        conversation = store.conversation(account, request.path_params["conversation_id"])
        if request.method == "DELETE":
            store.delete_conversation(conversation)
            return ok({})
        body = await json_body(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad("name is required: the conversation's new name, a non-empty string")
        conversation.name = name
        conversation.updated_at = now()
        return ok(conversation.to_wire())
