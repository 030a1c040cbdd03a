"""Contract tests: bot lists, conversation rename/delete, message feedback and audio through Coze's
official SDK (async client) against the emulator on a real uvicorn server."""

from __future__ import annotations

import io
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cozepy import (
    AsyncCoze,
    AsyncHTTPClient,
    AsyncTokenAuth,
    AudioFormat,
    ChatEventType,
    CozeAPIError,
    FeedbackType,
    Message,
    MessageType,
    VoiceModelType,
)
from emulator_helpers import OTHER_TOKEN, TOKEN, fast_bots

from botport.emulator.audio import VOICES
from botport.emulator.bots import DEMO_BOT_ID

pytestmark = pytest.mark.live


@pytest.fixture
async def coze(emulator_server) -> AsyncIterator[AsyncCoze]:  # type: ignore[no-untyped-def]
    http_client = AsyncHTTPClient(timeout=30)
    yield AsyncCoze(auth=AsyncTokenAuth(TOKEN), base_url=emulator_server.base_url, http_client=http_client)
    await http_client.aclose()


@pytest.fixture
async def other(emulator_server) -> AsyncIterator[AsyncCoze]:  # type: ignore[no-untyped-def]
    http_client = AsyncHTTPClient(timeout=30)
    yield AsyncCoze(
        auth=AsyncTokenAuth(OTHER_TOKEN), base_url=emulator_server.base_url, http_client=http_client
    )
    await http_client.aclose()


async def _answer(coze: AsyncCoze, text: str, conversation_id: str | None = None) -> Message:
    events = coze.chat.stream(
        bot_id=DEMO_BOT_ID,
        user_id=f"user-{uuid.uuid4().hex[:8]}",
        conversation_id=conversation_id,
        additional_messages=[Message.build_user_question_text(text)],
    )
    async for event in events:
        message = event.message
        completed = event.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED
        if completed and message is not None and message.type == MessageType.ANSWER:
            return message
    raise AssertionError("no answer")


async def test_bots_list_v1_and_v2_page(coze: AsyncCoze) -> None:
    expected = [bot.id for bot in fast_bots()]
    v1 = await coze.bots.list(space_id="any", page_size=1)
    assert [[b.bot_id for b in p.items] async for p in v1.iter_pages()] == [[i] for i in expected]
    v2 = await coze.bots.list(space_id="any", use_api_version=2, page_size=3)
    assert [[b.id for b in p.items] async for p in v2.iter_pages()] == [expected[:3], expected[3:]]
    assert [b.name async for b in await coze.bots.list(space_id="x", use_api_version=2)] == [
        bot.name for bot in fast_bots()
    ]
    assert (await coze.bots.retrieve(bot_id=DEMO_BOT_ID, use_api_version=2)).name == "Demo"


async def test_rename_delete_and_ownership(coze: AsyncCoze, other: AsyncCoze) -> None:
    conversation = await coze.conversations.create(bot_id=DEMO_BOT_ID)
    await _answer(coze, "hello", conversation.id)
    with pytest.raises(CozeAPIError) as info:
        await other.conversations.update(conversation_id=conversation.id, name="not yours")
    assert info.value.code == 4200
    with pytest.raises(CozeAPIError) as info:
        await other.conversations.delete(conversation_id=conversation.id)
    assert info.value.code == 4200
    renamed = await coze.conversations.update(conversation_id=conversation.id, name="Renamed")
    assert renamed.name == "Renamed" and renamed.updated_at
    await coze.conversations.delete(conversation_id=conversation.id)
    for call in (
        coze.conversations.retrieve(conversation_id=conversation.id),
        coze.conversations.delete(conversation_id=conversation.id),
        coze.conversations.messages.list(conversation_id=conversation.id),
    ):
        with pytest.raises(CozeAPIError) as info:
            await call
        assert info.value.code == 4200
    assert conversation.id not in [c.id async for c in await coze.conversations.list(bot_id=DEMO_BOT_ID)]


async def test_feedback(coze: AsyncCoze, emulator_server) -> None:  # type: ignore[no-untyped-def]
    answer = await _answer(coze, "rate me")
    feedback = coze.conversations.messages.feedback
    await feedback.create(
        conversation_id=answer.conversation_id,
        message_id=answer.id,
        feedback_type=FeedbackType.UNLIKE,
        reason_types=["wrong"],
        comment="not what I asked",
    )
    record = emulator_server.app.state.emulator.store.feedback[answer.id]
    assert (record.feedback_type, record.reason_types, record.comment) == (
        "unlike",
        ["wrong"],
        "not what I asked",
    )
    await feedback.delete(conversation_id=answer.conversation_id, message_id=answer.id)
    assert answer.id not in emulator_server.app.state.emulator.store.feedback
    with pytest.raises(CozeAPIError) as info:
        await feedback.create(
            conversation_id=answer.conversation_id, message_id="42", feedback_type=FeedbackType.LIKE
        )
    assert info.value.code == 4200


async def test_audio_round_trip(coze: AsyncCoze, tmp_path: Path) -> None:
    voices = [v async for v in await coze.audio.voices.list()]
    assert {v.voice_id for v in voices} == {v.voice_id for v in VOICES}
    small = [v.voice_id async for v in await coze.audio.voices.list(model_type=VoiceModelType.SMALL)]
    assert small == [v.voice_id for v in VOICES if v.model_type == "small"]
    text = "Async speech"
    speech = await coze.audio.speech.create(
        input=text, voice_id=voices[1].voice_id, response_format=AudioFormat.WAV, speed=1.5
    )
    path = tmp_path / "speech.wav"
    speech.write_to_file(str(path))
    data = path.read_bytes()
    with wave.open(io.BytesIO(data)) as audio:
        assert audio.getframerate() == 24000 and audio.getnframes() == round(24000 * 0.05 / 1.5) * len(text)
    assert (await coze.audio.transcriptions.create(file=("speech.wav", data))).text == text
    with pytest.raises(CozeAPIError) as info:
        await coze.audio.speech.create(input=text, voice_id=voices[0].voice_id)  # the default: mp3
    assert info.value.code == 4000 and "not supported by the botport emulator" in info.value.msg
