"""One short real turn, read whole: how ``botport doctor --live`` asks a bot whether it answers.

The turn is streamed (one upstream request) and its ``answer`` text gathered; a bot that asks for a
tool call instead (``requires_action``) has answered too, in its way. Errors are the client's.
"""

from __future__ import annotations

from dataclasses import dataclass

from botport.upstream.client import CozeClient
from botport.upstream.events import ChatEventType
from botport.upstream.models import EnterMessage, MessageType


@dataclass(frozen=True, slots=True)
class Reply:
    text: str  # the answer's text, as streamed
    tool_call: bool  # the bot asked for a tool call (the turn stopped at requires_action)


async def ask(coze: CozeClient, *, bot_id: str, user_id: str, question: str) -> Reply:
    """Ask ``question`` in a new conversation and wait for the whole answer."""
    text = ""
    tool_call = False
    messages = [EnterMessage.user_text(question)]
    async with coze.stream_chat(bot_id=bot_id, user_id=user_id, messages=messages) as stream:
        async for event in stream:
            message = event.message
            if event.type is ChatEventType.MESSAGE_DELTA and message and message.type is MessageType.ANSWER:
                text += message.content
            tool_call = tool_call or event.type is ChatEventType.CHAT_REQUIRES_ACTION
    return Reply(text=text, tool_call=tool_call)
