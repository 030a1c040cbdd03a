"""``/v3/chat`` and friends: start, retrieve, list messages, cancel, submit tool outputs."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botport.emulator.context import Emulator, effective_faults
from botport.emulator.envelope import BAD_REQUEST, EmulatorError, ok
from botport.emulator.faults import Faults
from botport.emulator.inputs import (
    bad,
    fault_overrides,
    json_body,
    message_inputs,
    meta_data,
    param,
    turn_context,
)
from botport.emulator.plan import TurnPlan
from botport.emulator.runner import ChatRunner, cancel_chat
from botport.emulator.state import ChatRecord, ConversationRecord
from botport.emulator.streaming import EventStreamResponse, chat_frames, proxy_error_page


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise bad(f"{name} must be true or false")
    return value


def _pre_stream_faults(faults: Faults) -> Response | None:
    """Faults that answer the request itself, before any chat starts."""
    if faults.http_status:
        return proxy_error_page(faults.http_status)
    if faults.envelope_error:
        raise EmulatorError(
            faults.envelope_error, f"error {faults.envelope_error} (fault injected: envelope_error)"
        )
    return None


def _launch(runner: ChatRunner, *, stream: bool) -> Response:
    """Start the chat's task; stream its events, or answer with the chat at once."""
    queue = runner.chat.subscribe() if stream else None
    snapshot = runner.chat.to_wire()
    runner.start()
    if queue is None:
        return ok(snapshot)
    return EventStreamResponse(chat_frames(queue, runner.faults.cut_after))


class ChatRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        return [
            Route("/v3/chat", self.start, methods=["POST"]),
            Route("/v3/chat/retrieve", self.retrieve, methods=["GET", "POST"]),
            Route("/v3/chat/message/list", self.messages, methods=["GET", "POST"]),
            Route("/v3/chat/cancel", self.cancel, methods=["POST"]),
            Route("/v3/chat/submit_tool_outputs", self.submit_tool_outputs, methods=["POST"]),
        ]

    async def start(self, request: Request) -> Response:
        em = self.emulator
        account = em.account(request)
        overrides = fault_overrides(request)
        body = await json_body(request)
        bot = em.bot(body.get("bot_id"))
        user_id = body.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise bad("user_id is required")
        stream = _flag(body, "stream", False)
        save_history = _flag(body, "auto_save_history", True)
        if not stream and not save_history:
            raise bad("auto_save_history must be true when stream is false")
        inputs = message_inputs(body.get("additional_messages"), "additional_messages", em.store, account)
        if not inputs or inputs[-1].role != "user":
            raise bad("additional_messages must end with the user's question (role user)")
        chat_meta = meta_data(body.get("meta_data"), "meta_data")
        early = _pre_stream_faults(bot.faults.with_overrides(overrides))
        if early is not None:
            return early

        conversation = self._conversation(request, account, bot.id, user_id)
        em.store.ensure_idle(conversation)
        chat = ChatRecord(
            conversation_id=conversation.id,
            bot_id=bot.id,
            user_id=user_id,
            section_id=conversation.last_section_id,
            meta_data=chat_meta,
        )
        em.store.add_chat(conversation, chat)
        new = [i.record(conversation.id, chat.section_id, chat_id=chat.id) for i in inputs]
        history = conversation.section_messages() + new
        if save_history:
            conversation.messages.extend(new)
        plan = bot.script(turn_context(history, files=em.store.files))
        runner = ChatRunner(
            conversation=conversation,
            chat=chat,
            plan=plan,
            faults=effective_faults(bot, plan, overrides),
            input_text="".join(m.content for m in history),
            save_history=save_history,
            echo=em.echo(request),
        )
        return _launch(runner, stream=stream)

    def _conversation(self, request: Request, account: str, bot_id: str, user_id: str) -> ConversationRecord:
        store = self.emulator.store
        conversation_id = request.query_params.get("conversation_id")
        if conversation_id:
            return store.conversation(account, conversation_id, user_id=user_id)
        conversation = store.create_conversation(account, bot_id=bot_id)
        conversation.owner_user_id = user_id
        return conversation

    async def retrieve(self, request: Request) -> Response:
        chat = await self._chat(request)
        if self.emulator.poll_limiter is not None:
            self.emulator.poll_limiter.check(chat.id)  # at most about one retrieve a second
        return ok(chat.to_wire())

    async def messages(self, request: Request) -> Response:
        chat = await self._chat(request)
        return ok([m.to_wire() for m in chat.messages])

    async def cancel(self, request: Request) -> Response:
        chat = await self._chat(request)
        cancel_chat(chat)
        return ok(chat.to_wire())

    async def _chat(self, request: Request) -> ChatRecord:
        account = self.emulator.account(request)
        body = await json_body(request) if request.method == "POST" else {}
        return self.emulator.store.chat(
            account, param(request, body, "conversation_id"), param(request, body, "chat_id")
        )

    async def submit_tool_outputs(self, request: Request) -> Response:
        em = self.emulator
        account = em.account(request)
        overrides = fault_overrides(request)
        body = await json_body(request)
        chat = em.store.chat(
            account, param(request, body, "conversation_id"), param(request, body, "chat_id")
        )
        stream = _flag(body, "stream", False)
        if chat.status != "requires_action" or chat.required_action is None:
            raise EmulatorError(
                BAD_REQUEST, f"the chat is not waiting for tool outputs (status: {chat.status})"
            )
        calls = {c["id"]: c for c in chat.required_action["submit_tool_outputs"]["tool_calls"]}
        outputs = _tool_outputs(body.get("tool_outputs"), set(calls))
        bot = em.bot(chat.bot_id)
        early = _pre_stream_faults(bot.faults.with_overrides(overrides))
        if early is not None:
            return early

        conversation = em.store.conversation(account, chat.conversation_id)
        arguments = tuple(calls[call_id]["function"]["arguments"] for call_id, _ in outputs)
        history = conversation.section_messages()
        context = turn_context(history, files=em.store.files, tool_outputs=outputs, tool_arguments=arguments)
        plan: TurnPlan = bot.script(context)
        chat.status, chat.required_action = "in_progress", None
        runner = ChatRunner(
            conversation=conversation,
            chat=chat,
            plan=plan,
            faults=effective_faults(bot, plan, overrides),
            input_text="".join(m.content for m in history) + "".join(o for _, o in outputs),
            continuing=True,
            echo=self.emulator.echo(request),
        )
        return _launch(runner, stream=stream)


def _tool_outputs(raw: object, pending: set[str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        raise bad("tool_outputs must be a non-empty list")
    outputs: list[tuple[str, str]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("output"), str):
            raise bad(f"tool_outputs[{i}] needs tool_call_id and an output string")
        if item.get("tool_call_id") not in pending:
            raise bad(
                f"tool_outputs[{i}].tool_call_id {item.get('tool_call_id')!r} is not a pending tool call"
            )
        outputs.append((str(item["tool_call_id"]), item["output"]))
    missing = pending - {call_id for call_id, _ in outputs}
    if missing:
        raise bad(f"tool_outputs is missing the output of tool call(s) {sorted(missing)}")
    return tuple(outputs)
