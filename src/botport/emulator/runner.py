"""Plays a bot's :class:`TurnPlan` out as Coze events, updating the chat as it goes.

A chat runs as its own asyncio task: streams only listen to it (``ChatRecord.subscribe``), so a
non-streaming chat runs the same way in the background and a client that disconnects does not stop
it (as on Coze). Faults that belong to the chat (delays, ``error_event_after``) act here; the stream
cut acts in the response (:mod:`botport.emulator.streaming`).
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass

from botport.emulator.envelope import CANNOT_CANCEL, INTERNAL, EmulatorError
from botport.emulator.faults import Faults
from botport.emulator.ids import new_id, now
from botport.emulator.plan import TurnPlan, word_chunks
from botport.emulator.sse import encode_done, encode_event
from botport.emulator.state import RUNNING, ChatRecord, ConversationRecord, MessageRecord

DELTA = "conversation.message.delta"
COMPLETED = "conversation.message.completed"
# Coze's HTTP API documents no cancel event; its websocket API uses this name. Clients skip unknown names.
CANCELED = "conversation.chat.canceled"


def count_tokens(text: str) -> int:
    """A stand-in tokenizer: about four characters a token."""
    return math.ceil(len(text) / 4)


class _ErrorEvent(Exception):
    """Raised inside the run when the ``error_event_after`` fault fires."""


@dataclass(slots=True)
class ChatRunner:
    conversation: ConversationRecord
    chat: ChatRecord
    plan: TurnPlan
    faults: Faults
    input_text: str  # what the bot "read": counted as input tokens
    save_history: bool = True
    continuing: bool = False  # after submit_tool_outputs: no chat.created
    echo: str = ""  # added to every error message (Emulator.echo)
    _deltas: int = 0

    def start(self) -> None:
        self.chat.task = asyncio.create_task(self.run(), name=f"emulated-chat-{self.chat.id}")

    async def run(self) -> None:
        chat, plan = self.chat, self.plan
        try:
            await asyncio.sleep(self.faults.first_delay)
            if not self.continuing:
                self._emit("conversation.chat.created", chat.to_wire(status="created"))
            chat.status = "in_progress"
            self._emit("conversation.chat.in_progress", chat.to_wire())
            for output in plan.tool_responses:
                self._complete(self._message("tool_response", output))
            if plan.ending == "requires_action":
                self._require_action()
                return
            answer = await self._stream_answer()
            if answer is None:
                return
            self._complete_turn(answer)
        except _ErrorEvent:
            self._error_event((INTERNAL, "stream error (fault injected: error_event_after)"))
        except asyncio.CancelledError:
            pass  # cancel_chat already recorded and announced the cancel

    # --- steps -------------------------------------------------------------------------------

    async def _stream_answer(self) -> MessageRecord | None:
        """Send the deltas; the finished answer, or None when the plan ended the chat early."""
        plan = self.plan
        answer = self._message("answer", "")
        limit = plan.stop_after if plan.ending in ("failed", "error") else None
        pieces = [("", p) for p in word_chunks(plan.reasoning)] + [(p, "") for p in word_chunks(plan.answer)]
        for content, reasoning in pieces:
            if limit is not None and self._deltas >= limit:
                break
            await self._delta(answer, content, reasoning)
        if plan.ending == "failed":
            self._fail(plan.error)
            return None
        if plan.ending == "error":
            self._error_event(plan.error)
            return None
        return answer

    async def _delta(self, answer: MessageRecord, content: str, reasoning: str) -> None:
        if self._deltas:
            await asyncio.sleep(self.faults.delta_delay)
        if self.faults.error_event_after is not None and self._deltas >= self.faults.error_event_after:
            raise _ErrorEvent
        answer.content += content
        answer.reasoning_content += reasoning
        delta = {**answer.to_wire(), "content": content, "reasoning_content": reasoning}
        for key in ("created_at", "updated_at", "meta_data"):
            delta.pop(key)
        self._emit(DELTA, delta)
        self._deltas += 1

    def _complete_turn(self, answer: MessageRecord) -> None:
        chat = self.chat
        self._complete(answer)
        if self.save_history:
            self.conversation.messages.append(answer)
        finish = {"finish_reason": 0, "FinData": ""}
        verbose = {
            "msg_type": "generate_answer_finish",
            "data": json.dumps(finish),
            "from_module": None,
            "from_unit": None,
        }
        self._complete(self._message("verbose", json.dumps(verbose)))
        for suggestion in self.plan.follow_ups:
            self._complete(self._message("follow_up", suggestion))
        chat.usage.input_count = count_tokens(self.input_text)
        chat.usage.output_count = count_tokens(answer.content + answer.reasoning_content)
        chat.status, chat.completed_at = "completed", now()
        self._emit("conversation.chat.completed", chat.to_wire())
        self._finish(done=True)

    def _require_action(self) -> None:
        chat = self.chat
        tool_calls = []
        for call in self.plan.tool_calls:
            tool_calls.append(
                {
                    "id": new_id(),
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            )
            content = json.dumps(
                {"name": call.name, "arguments": json.loads(call.arguments)}, ensure_ascii=False
            )
            self._complete(self._message("function_call", content))
        chat.required_action = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": tool_calls},
        }
        chat.status = "requires_action"
        chat.usage.input_count = count_tokens(self.input_text)
        self._emit("conversation.chat.requires_action", chat.to_wire())
        self._finish(done=True)

    def _fail(self, error: tuple[int, str]) -> None:
        chat = self.chat
        error = (error[0], error[1] + self.echo)
        chat.status, chat.failed_at, chat.last_error = "failed", now(), error
        self._emit("conversation.chat.failed", chat.to_wire())
        self._finish(done=True)

    def _error_event(self, error: tuple[int, str]) -> None:
        """An ``error`` event ends the stream without ``done``; the chat is recorded as failed."""
        chat = self.chat
        error = (error[0], error[1] + self.echo)
        chat.status, chat.failed_at, chat.last_error = "failed", now(), error
        self._emit("error", {"code": error[0], "msg": error[1]})
        self._finish(done=False)

    # --- helpers -----------------------------------------------------------------------------

    def _message(self, type_: str, content: str) -> MessageRecord:
        return MessageRecord(
            conversation_id=self.conversation.id,
            section_id=self.chat.section_id,
            role="assistant",
            type=type_,
            content=content,
            bot_id=self.chat.bot_id,
            chat_id=self.chat.id,
        )

    def _complete(self, message: MessageRecord) -> None:
        message.updated_at = now()
        self.chat.messages.append(message)
        self._emit(COMPLETED, message.to_wire())

    def _emit(self, name: str, data: object) -> None:
        self.chat.publish((name, encode_event(name, data)))

    def _finish(self, *, done: bool) -> None:
        if done:
            self.chat.publish(("done", encode_done()))
        self.chat.publish(None)


def cancel_chat(chat: ChatRecord) -> None:
    """Cancel a running (or tool-waiting) chat; anything else is Coze's 4104."""
    if chat.status not in RUNNING and chat.status != "requires_action":
        raise EmulatorError(CANNOT_CANCEL, f"the chat cannot be canceled: its status is {chat.status}")
    chat.status, chat.completed_at = "canceled", now()
    chat.publish((CANCELED, encode_event(CANCELED, chat.to_wire())))
    chat.publish(("done", encode_done()))
    chat.publish(None)
    if chat.task is not None:
        chat.task.cancel()
