"""How a question's turn opens its Coze stream: in the conversation's Coze conversation when there is
one, else a new one carrying the history it needs — the client's (an OpenAI client's messages) or the
stored branch (a new version, an import) — and, when Coze has lost the conversation, a new one seeded
with the stored turns (:mod:`botport.chat.seeding`).

The question is sent as text, or as ``object_string`` parts when it carries attachments
(:func:`botport.chat.attachments.message_parts`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace

from botport.bots import BotRegistry
from botport.chat.attachments import message_parts
from botport.chat.handles import TurnRequest
from botport.chat.seeding import entered, history_before, seeded
from botport.chat.turn import StreamOpener, Turn, TurnEnv
from botport.identity import Identity
from botport.store.db import Database
from botport.store.records import ConversationRecord, MessageRecord
from botport.upstream.client import CozeClient
from botport.upstream.models import EnterMessage
from botport.upstream.stream import ChatStream

TurnFactory = Callable[[ConversationRecord, MessageRecord | None, MessageRecord], Turn]


def question_message(request: TurnRequest, content: str) -> EnterMessage:
    """The question as Coze takes it: plain text, or parts when it carries attachments."""
    if request.attachments or request.remote_files:
        return EnterMessage.user_parts(message_parts(content, request.attachments, request.remote_files))
    return EnterMessage.user_text(content)


@dataclass(frozen=True, slots=True)
class QuestionTurns:
    """Makes the turns that ask a question (what :meth:`ChatService.start_turn` starts)."""

    db: Database
    coze: CozeClient
    bots: BotRegistry
    coze_user_id: Callable[[Identity], str]
    env: TurnEnv

    def factory(self, request: TurnRequest, content: str) -> TurnFactory:
        question = question_message(request, content)
        identity = request.identity

        def opener_for(conv: ConversationRecord, earlier: list[EnterMessage]) -> StreamOpener:
            bot = self.bots.get(conv.bot)

            def opener() -> AbstractAsyncContextManager[ChatStream]:
                return self.coze.stream_chat(
                    bot_id=bot.bot_id,
                    user_id=self.coze_user_id(identity),
                    messages=[*earlier, question],
                    conversation_id=conv.coze_conversation_id,
                )

            return opener

        def make_turn(conv: ConversationRecord, user: MessageRecord | None, answer: MessageRecord) -> Turn:
            if conv.coze_conversation_id or request.earlier or (user is not None and user.parent_id is None):
                earlier = () if conv.coze_conversation_id else request.earlier
                opener = opener_for(conv, [entered(role, text) for role, text in earlier])
            else:  # stored turns Coze has no conversation for (a new branch, an import): seed them
                opener = seeded(self.db, answer, lambda turns: opener_for(conv, turns)())

            async def replay() -> StreamOpener:
                """Coze lost the conversation (expired, deleted, or the demo emulator restarted):
                start a new one carrying the stored turns, so the bot keeps the context."""
                turns = await history_before(self.db, answer)
                return opener_for(replace(conv, coze_conversation_id=None), turns)

            return Turn(self.env, conv, user, answer, opener, replay if conv.coze_conversation_id else None)

        return make_turn
