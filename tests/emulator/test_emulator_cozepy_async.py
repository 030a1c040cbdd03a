"""Contract tests: Coze's official SDK (async client) against the emulator on a real uvicorn server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from cozepy import (
    AsyncCoze,
    AsyncHTTPClient,
    AsyncTokenAuth,
    Chat,
    ChatEvent,
    ChatEventType,
    ChatStatus,
    CozeAPIError,
    Message,
    MessageType,
    ToolOutput,
)
from emulator_helpers import TOKEN

from botport.emulator.bots import DEMO_BOT_ID, TOOL_BOT_ID

pytestmark = pytest.mark.live


@pytest.fixture
async def coze(emulator_server) -> AsyncIterator[AsyncCoze]:  # type: ignore[no-untyped-def]
    http_client = AsyncHTTPClient(timeout=30)
    yield AsyncCoze(auth=AsyncTokenAuth(TOKEN), base_url=emulator_server.base_url, http_client=http_client)
    await http_client.aclose()


@pytest.fixture
def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def _ask(text: str) -> list[Message]:
    return [Message.build_user_question_text(text)]


async def _collect(events: AsyncIterator[ChatEvent]) -> list[ChatEvent]:
    return [event async for event in events]


def _answer(events: list[ChatEvent]) -> Message:
    completed = [e.message for e in events if e.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED]
    return next(m for m in completed if m and m.type == MessageType.ANSWER)


async def test_stream_and_second_turn(coze: AsyncCoze, user: str) -> None:
    first = await _collect(
        coze.chat.stream(bot_id=DEMO_BOT_ID, user_id=user, additional_messages=_ask("uno"))
    )
    assert first[0].event == ChatEventType.CONVERSATION_CHAT_CREATED
    assert first[-1].event == ChatEventType.CONVERSATION_CHAT_COMPLETED
    deltas = "".join(
        e.message.content for e in first if e.event == "conversation.message.delta" and e.message
    )
    assert deltas == _answer(first).content
    conversation_id = _answer(first).conversation_id
    second = await _collect(
        coze.chat.stream(
            bot_id=DEMO_BOT_ID, user_id=user, conversation_id=conversation_id, additional_messages=_ask("dos")
        )
    )
    answer = _answer(second).content
    assert "**Turn 2.**" in answer and "dos" in answer and "uno" in answer


async def _wait(coze: AsyncCoze, chat: Chat) -> Chat:
    """Poll until the chat leaves in_progress (the async SDK has no create_and_poll), once a second as
    Coze asks (the emulator refuses faster polling)."""
    for _ in range(20):
        chat = await coze.chat.retrieve(conversation_id=chat.conversation_id, chat_id=chat.id)
        if chat.status != ChatStatus.IN_PROGRESS:
            break
        await asyncio.sleep(1)
    return chat


async def test_create_retrieve_and_message_list(coze: AsyncCoze, user: str) -> None:
    chat = await coze.chat.create(bot_id=DEMO_BOT_ID, user_id=user, additional_messages=_ask("hola"))
    assert chat.status == ChatStatus.IN_PROGRESS
    chat = await _wait(coze, chat)
    assert chat.status == ChatStatus.COMPLETED and chat.usage and chat.usage.output_count > 0
    messages = await coze.chat.messages.list(conversation_id=chat.conversation_id, chat_id=chat.id)
    types = [m.type for m in messages]
    assert types.count(MessageType.FOLLOW_UP) == 3 and MessageType.ANSWER in types
    assert "hola" in next(m for m in messages if m.type == MessageType.ANSWER).content


async def test_cancel(coze: AsyncCoze, user: str) -> None:
    chat = await coze.chat.create(bot_id=DEMO_BOT_ID, user_id=user, additional_messages=_ask("/slow wait"))
    assert (
        await coze.chat.retrieve(conversation_id=chat.conversation_id, chat_id=chat.id)
    ).status == "in_progress"
    canceled = await coze.chat.cancel(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert canceled.status == ChatStatus.CANCELED
    with pytest.raises(CozeAPIError) as info:
        await coze.chat.cancel(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert info.value.code == 4104


@pytest.mark.parametrize("stream", [True, False])
async def test_submit_tool_outputs(coze: AsyncCoze, user: str, stream: bool) -> None:
    events = await _collect(
        coze.chat.stream(bot_id=TOOL_BOT_ID, user_id=user, additional_messages=_ask("Weather in Lyon?"))
    )
    chat = events[-1].chat
    assert events[-1].event == ChatEventType.CONVERSATION_CHAT_REQUIRES_ACTION and chat is not None
    assert chat.required_action and chat.required_action.submit_tool_outputs
    call = chat.required_action.submit_tool_outputs.tool_calls[0]
    outputs = [ToolOutput(tool_call_id=call.id, output="Rain, 9 °C")]
    ids = {"conversation_id": chat.conversation_id, "chat_id": chat.id}
    if stream:
        continued = await _collect(coze.chat.submit_tool_outputs_stream(**ids, tool_outputs=outputs))
        assert continued[-1].event == ChatEventType.CONVERSATION_CHAT_COMPLETED
        assert "Rain, 9 °C" in _answer(continued).content
    else:
        result = await coze.chat.submit_tool_outputs(**ids, tool_outputs=outputs)
        assert result.status == ChatStatus.IN_PROGRESS
        chat = await _wait(coze, chat)
        assert chat.status == ChatStatus.COMPLETED
    messages = await coze.chat.messages.list(conversation_id=chat.conversation_id, chat_id=chat.id)
    answer = next(m for m in messages if m.type == MessageType.ANSWER)
    assert "Lyon" in answer.content and "Rain, 9 °C" in answer.content


async def test_conversations(coze: AsyncCoze, user: str) -> None:
    conversation = await coze.conversations.create(bot_id=DEMO_BOT_ID)
    assert (await coze.conversations.retrieve(conversation_id=conversation.id)).id == conversation.id
    for text in ("a", "b", "c"):
        await _collect(
            coze.chat.stream(
                bot_id=DEMO_BOT_ID,
                user_id=user,
                conversation_id=conversation.id,
                additional_messages=_ask(text),
            )
        )
    pages = await coze.conversations.messages.list(conversation_id=conversation.id, order="asc", limit=4)
    messages = [m async for m in pages]
    assert [m.content for m in messages if m.type == MessageType.QUESTION] == ["a", "b", "c"]
    assert len(messages) == 6


async def test_bad_token(emulator_server) -> None:  # type: ignore[no-untyped-def]
    http_client = AsyncHTTPClient(timeout=30)
    coze = AsyncCoze(auth=AsyncTokenAuth("nope"), base_url=emulator_server.base_url, http_client=http_client)
    try:
        with pytest.raises(CozeAPIError) as info:
            await _collect(coze.chat.stream(bot_id=DEMO_BOT_ID, user_id="u", additional_messages=_ask("hi")))
        assert info.value.code == 4100 and info.value.logid
    finally:
        await http_client.aclose()
