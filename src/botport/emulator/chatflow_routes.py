"""``POST /v1/workflows/chat``: a chatflow turn, streamed with the same events as ``/v3/chat``.

The body is ``{workflow_id, additional_messages, parameters?, conversation_id?, bot_id?, app_id?,
ext?}`` (the SDKs send ``conversation_id`` in the body; the query string works too). Without a
conversation one is created; the question and the answer are stored in it, so the conversation's
message list shows the turn. The turn is played by the chat runner, like a bot's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botport.emulator.context import Emulator
from botport.emulator.envelope import EmulatorError
from botport.emulator.faults import Faults
from botport.emulator.inputs import (
    bad,
    fault_overrides,
    json_body,
    message_inputs,
    optional_str,
    turn_context,
)
from botport.emulator.runner import ChatRunner
from botport.emulator.state import ChatRecord, ConversationRecord
from botport.emulator.streaming import EventStreamResponse, chat_frames
from botport.emulator.workflows import EmulatedWorkflow, check_parameters

# Finds a workflow by id and mode, raising Coze's error for an unknown one (WorkflowRoutes.workflow).
WorkflowLookup = Callable[[object, str], EmulatedWorkflow]


class ChatflowRoutes:
    def __init__(self, emulator: Emulator, lookup: WorkflowLookup, *, delta_delay: float) -> None:
        self.emulator = emulator
        self.lookup = lookup
        self.delta_delay = delta_delay

    def routes(self) -> list[Route]:
        return [Route("/v1/workflows/chat", self.chat, methods=["POST"])]

    async def chat(self, request: Request) -> Response:
        em = self.emulator
        account = em.account(request)
        faults = Faults(delta_delay=self.delta_delay).with_overrides(fault_overrides(request))
        body = await json_body(request)
        workflow = self.lookup(body.get("workflow_id"), "chatflow")
        assert workflow.chat_script is not None  # lookup(..., "chatflow") returns only chatflows
        parameters = check_parameters(workflow, body.get("parameters"))
        inputs = message_inputs(body.get("additional_messages"), "additional_messages", em.store, account)
        if not inputs or inputs[-1].role != "user":
            raise bad("additional_messages must end with the user's message (role user)")
        bot_id, user_id = optional_str(body, "bot_id"), ext_user_id(body)
        if faults.envelope_error:
            raise EmulatorError(
                faults.envelope_error, f"error {faults.envelope_error} (fault injected: envelope_error)"
            )

        conversation = self._conversation(request, body, account, bot_id, user_id)
        em.store.ensure_idle(conversation)
        chat = ChatRecord(
            conversation_id=conversation.id,
            bot_id=bot_id,
            user_id=user_id,
            section_id=conversation.last_section_id,
        )
        em.store.add_chat(conversation, chat)
        conversation.messages.extend(
            i.record(conversation.id, chat.section_id, chat_id=chat.id) for i in inputs
        )
        history = conversation.section_messages()
        runner = ChatRunner(
            conversation=conversation,
            chat=chat,
            plan=workflow.chat_script(turn_context(history, files=em.store.files), parameters),
            faults=faults,
            input_text="".join(m.content for m in history),
            echo=em.echo(request),
        )
        queue = chat.subscribe()  # before the task starts, so no event is missed
        runner.start()
        return EventStreamResponse(chat_frames(queue, faults.cut_after))

    def _conversation(
        self, request: Request, body: dict[str, Any], account: str, bot_id: str, user_id: str
    ) -> ConversationRecord:
        store = self.emulator.store
        conversation_id = request.query_params.get("conversation_id") or optional_str(body, "conversation_id")
        if conversation_id:
            return store.conversation(account, conversation_id, user_id=user_id or None)
        conversation = store.create_conversation(account, bot_id=bot_id)
        conversation.owner_user_id = user_id or None
        return conversation


def ext_user_id(body: dict[str, Any]) -> str:
    """Workflows have no ``user_id`` field; ``ext.user_id`` names the user when the caller gives one."""
    ext = body.get("ext")
    if ext is None:
        return ""
    if not isinstance(ext, dict) or not all(isinstance(v, str) for v in ext.values()):
        raise bad("ext must be an object of strings")
    return str(ext.get("user_id", ""))
