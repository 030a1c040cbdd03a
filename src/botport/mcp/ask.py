"""One tool call: a botport turn, run like every edge's (a server-side job, stored, in the caller's
conversations), watched for progress, and rendered as an MCP tool result.

A bot's failure is a tool *result* with ``isError`` and a sentence a model can relay, never a protocol
error. A call stopped by its client (a cancel, the connection gone) stops the turn: the Coze chat is
cancelled and the partial answer stored as ``interrupted``.

No deadline of botport's own beyond the turn's (``turn_timeout``): unlike an agent platform's one-shot
request (``tool_timeout``), an MCP client hears progress while the answer streams and cancels the call
when it stops waiting, which stops the turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import mcp_types as types

from botport.api.deps import Services
from botport.api.openai_files import attach_files, image_input
from botport.chat.eventlog import Keepalive
from botport.chat.handles import TurnHandle, TurnRequest, conversation_target
from botport.chat.text import sentence
from botport.errors import BotportError
from botport.identity import Identity
from botport.mcp.calls import CANCELLED
from botport.mcp.progress import Progress
from botport.mcp.tools import Question, plausible_id, tool_name
from botport.settings import BotConfig
from botport.store import repository as repo
from botport.store.records import MessageRecord
from botport.store.turns import NewConversation


class Refused(Exception):
    """The question was not asked; the message says why, for the model to relay."""


def error_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


class ToolCall:
    """A question asked of a bot on behalf of ``identity``, stoppable from outside (a cancel
    notification, a disconnect) before or while the turn runs."""

    def __init__(self, services: Services, identity: Identity, bot: BotConfig, question: Question) -> None:
        self.services = services
        self.identity = identity
        self.bot = bot
        self.question = question
        self.handle: TurnHandle | None = None
        self._stop: tuple[str, str] | None = None

    def stop(self, code: str, reason: str) -> None:
        """Stop the turn (once); before it started, it is stopped as soon as it does."""
        if self._stop is not None:
            return
        self._stop = (code, reason)
        if self.handle is not None:
            self.services.chat.stop_turn(self.handle, code, reason)

    async def run(
        self, progress: Progress, *, shutting_down: Callable[[], bool] | None = None
    ) -> types.CallToolResult:
        """Ask, follow the answer, render it. ``shutting_down()`` true: a cancellation is the server's
        (its shutdown stops the turn with its own reason), not the client's."""
        try:
            return await self._run(progress)
        except asyncio.CancelledError:
            if not (shutting_down is not None and shutting_down()):
                self.stop(*CANCELLED)
            raise

    async def _run(self, progress: Progress) -> types.CallToolResult:
        # Shielded: a call cancelled while its turn starts still learns the turn, to stop it.
        starting = asyncio.ensure_future(self._start())
        try:
            self.handle = await asyncio.shield(starting)
        except asyncio.CancelledError:
            starting.add_done_callback(self._started_late)
            raise
        except Refused as exc:
            return error_result(str(exc))
        except BotportError as exc:
            return error_result(_refusal(exc))
        if self._stop is not None:  # stopped while it started
            self.services.chat.stop_turn(self.handle, *self._stop)
        await progress.started(self.bot.name)
        try:
            async for item in self.services.chat.watch(self.handle):  # ends with the turn's last event
                if not isinstance(item, Keepalive):
                    await progress.on_event(item[1])
            message = (await self.services.chat.result(self.handle)).message
        except BotportError as exc:  # the answer was deleted meanwhile, the store failed...
            return error_result(f"The answer could not be read: {sentence(exc.message)}")
        return render(self.bot, self.handle.conversation.id, message)

    def _started_late(self, starting: asyncio.Future[TurnHandle]) -> None:
        if starting.cancelled() or starting.exception() is not None:
            return
        self.handle = starting.result()
        if self._stop is not None:
            self.services.chat.stop_turn(self.handle, *self._stop)

    async def _start(self) -> TurnHandle:
        found = await self._conversation()
        conversation_id, new = conversation_target(found)
        request = TurnRequest(
            identity=self.identity,
            conversation_id=conversation_id,
            content=self.question.question,
            new_conversation=new,
        )
        if self.question.images:
            files = [image_input(url, f"images[{i}]") for i, url in enumerate(self.question.images)]
            attachments, remote = await attach_files(self.services, self.identity, files)
            request = replace(request, attachments=attachments, remote_files=remote)
        return await self.services.chat.start_turn(request)

    async def _conversation(self) -> str | NewConversation:
        wanted = self.question.conversation_id
        if wanted is None:
            return NewConversation(self.bot.slug)
        owner = self.identity.owner
        record = (
            await self.services.db.read_op(
                lambda conn: repo.find_conversation(conn, owner=owner, conversation_id=wanted)
            )
            if plausible_id(wanted)
            else None
        )
        if record is None:
            raise Refused(
                f"There is no conversation {wanted!r} for this caller. Leave conversation_id out to start "
                "a new conversation, or pass the conversation_id that an earlier answer of this tool gave."
            )
        if record.bot != self.bot.slug:
            raise Refused(
                f"Conversation {wanted!r} is with another bot ({record.bot}): continue it with the tool "
                f"{tool_name(record.bot)}, or leave conversation_id out to start a new conversation here."
            )
        return record.id


def _refusal(exc: BotportError) -> str:
    """A refused start (busy conversation, quota, too long, ...) as a sentence to relay."""
    text = f"The question was not asked: {sentence(exc.message)}"
    if exc.retry_after:
        text += f" Try again in {exc.retry_after} seconds."
    return text


def render(bot: BotConfig, conversation_id: str, message: MessageRecord) -> types.CallToolResult:
    """The stored answer as the tool's result; a failed one as an error result that says why."""
    if message.status != "completed":
        return error_result(_failure(bot, conversation_id, message))
    answer = {
        "answer": message.content,
        "conversation_id": conversation_id,
        "follow_ups": list(message.follow_ups),
    }
    # Models that read only the text must see the conversation id too, or they cannot follow up.
    footer = [f"conversation_id: {conversation_id} (pass it back to ask {bot.name} a follow-up)"]
    if message.follow_ups:
        footer.append("Suggested follow-ups: " + " | ".join(message.follow_ups))
    text = f"{message.content}\n\n---\n" + "\n".join(footer)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=answer
    )


def _failure(bot: BotConfig, conversation_id: str, message: MessageRecord) -> str:
    if message.status == "requires_action":
        names = ", ".join(sorted({str(c.get("name")) for c in message.tool_calls or []})) or "a tool"
        text = (
            f"{bot.name} asked its caller to run {names}, which botport's MCP tools cannot do. "
            "Use a bot that does not need client-side tools."
        )
    elif message.status == "interrupted":
        reason = sentence(message.error_message or "it was stopped")
        text = f"{bot.name}'s answer was stopped before it was finished: {reason}"
    else:
        reason = sentence(message.error_message or "no reason given")
        text = f"{bot.name} could not answer: {reason} Tell the user, and try again later."
    if message.content and message.status != "requires_action":
        text += f"\n\nThe partial answer:\n\n{message.content}"
    text += f"\n\n---\nconversation_id: {conversation_id}"
    if message.logid:
        text += f" (Coze log id {message.logid}, to report the failure)"
    return text
