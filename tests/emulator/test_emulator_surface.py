"""Contract tests: more of Coze's surface (bot lists, workspaces, conversation rename/delete, message
feedback, audio) through Coze's official SDK (sync client) against the emulator on a real uvicorn server."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import httpx
import pytest
from cozepy import (
    AudioFormat,
    ChatEventType,
    ChatStatus,
    Coze,
    CozeAPIError,
    FeedbackType,
    Message,
    MessageType,
    PublishStatus,
    WorkspaceRoleType,
    WorkspaceType,
)
from emulator_helpers import AUTH, cozepy_client, fast_bots

from botport.emulator.audio import VOICES
from botport.emulator.audio_routes import FIXED_TRANSCRIPTION
from botport.emulator.bots import DEMO_BOT_ID
from botport.emulator.workspace_routes import WORKSPACE_ID

pytestmark = pytest.mark.live

NOT_FOUND = 4200


def _answer(coze: Coze, user: str, text: str, conversation_id: str | None = None) -> Message:
    events = coze.chat.stream(
        bot_id=DEMO_BOT_ID,
        user_id=user,
        conversation_id=conversation_id,
        additional_messages=[Message.build_user_question_text(text)],
    )
    done = [e.message for e in events if e.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED]
    return next(m for m in done if m is not None and m.type == MessageType.ANSWER)


def _code(info: pytest.ExceptionInfo[CozeAPIError]) -> int | None:
    return info.value.code


# --- bots ----------------------------------------------------------------------------------------


def test_bots_list_v1_pages_through_the_emulators_bots(coze: Coze) -> None:
    expected = [bot.id for bot in fast_bots()]
    first = coze.bots.list(space_id="any-space", page_size=1)
    assert first.total == len(expected) and first.has_more
    pages = list(first.iter_pages())
    assert [len(p.items) for p in pages] == [1] * len(expected)  # one request per page
    assert [p.items[0].bot_id for p in pages] == expected
    assert [bot.id for bot in coze.bots.list(space_id="other-space", page_size=3)] == expected
    last = coze.bots.list(space_id="s", page_num=2, page_size=3)
    assert [b.id for b in last.items] == expected[3:] and not last.has_more
    bot = pages[0].items[0]
    assert bot.name == "Demo" and bot.is_published and bot.published_at and bot.description


def test_bots_list_v2_pages_and_filters(coze: Coze) -> None:
    expected = [bot.id for bot in fast_bots()]
    paged = coze.bots.list(space_id="workspace-1", use_api_version=2, page_size=3)
    pages = list(paged.iter_pages())
    assert [[b.id for b in p.items] for p in pages] == [expected[:3], expected[3:]]
    assert pages[0].total == len(expected)
    everything = coze.bots.list(space_id="w", use_api_version=2, publish_status=PublishStatus.ALL)
    assert [b.name for b in everything] == [bot.name for bot in fast_bots()]
    drafts = coze.bots.list(space_id="w", use_api_version=2, publish_status=PublishStatus.UNPUBLISHED_DRAFT)
    assert drafts.total == 0 and list(drafts) == []


def test_bot_retrieve_v2_and_unknown_bot(coze: Coze) -> None:
    bot = coze.bots.retrieve(bot_id=DEMO_BOT_ID, use_api_version=2)
    assert bot.bot_id == DEMO_BOT_ID and bot.name == "Demo"
    with pytest.raises(CozeAPIError) as info:
        coze.bots.retrieve(bot_id="123", use_api_version=2)
    assert _code(info) == 4015


def test_workspaces_list_has_the_one_personal_space(coze: Coze, other: Coze) -> None:
    listed = coze.workspaces.list()
    assert listed.total == 1 and not listed.has_more
    (space,) = list(listed)
    assert space.id == WORKSPACE_ID and space.name == "Personal"
    assert space.role_type == WorkspaceRoleType.OWNER and space.workspace_type == WorkspaceType.PERSONAL
    assert space.enterprise_id == "" and space.icon_url == ""
    assert [w.id for w in other.workspaces.list(page_size=50)] == [WORKSPACE_ID]  # every token's user owns it
    assert list(coze.workspaces.list(page_num=2)) == []
    bots = coze.bots.list(space_id=space.id, use_api_version=2, publish_status=PublishStatus.ALL)
    assert [b.id for b in bots] == [bot.id for bot in fast_bots()]


def test_workspaces_list_checks_the_token_and_page_size(emulator_server) -> None:  # type: ignore[no-untyped-def]
    stranger = cozepy_client(emulator_server.base_url, "not-a-token")
    try:
        with pytest.raises(CozeAPIError) as info:
            stranger.workspaces.list()
        assert _code(info) == 4100
    finally:
        stranger._requester.sync_client.close()
    with httpx.Client(base_url=emulator_server.base_url) as http:
        too_many = http.get("/v1/workspaces", params={"page_size": 51}, headers=AUTH).json()
    assert too_many["code"] == 4000 and "page_size" in too_many["msg"]


# --- conversations: rename and delete ------------------------------------------------------------


def test_rename_then_delete_a_conversation(coze: Coze, user: str) -> None:
    conversation = coze.conversations.create(bot_id=DEMO_BOT_ID)
    answer = _answer(coze, user, "hello", conversation.id)
    renamed = coze.conversations.update(conversation_id=conversation.id, name="Trip planning")
    assert renamed.id == conversation.id and renamed.name == "Trip planning"
    assert coze.conversations.retrieve(conversation_id=conversation.id).name == "Trip planning"
    listed = {c.id: c for c in coze.conversations.list(bot_id=DEMO_BOT_ID)}
    assert listed[conversation.id].name == "Trip planning"

    coze.conversations.delete(conversation_id=conversation.id)
    gone = [
        lambda: coze.conversations.retrieve(conversation_id=conversation.id),
        lambda: coze.conversations.delete(conversation_id=conversation.id),  # deleting it again
        lambda: coze.conversations.update(conversation_id=conversation.id, name="x"),
        lambda: coze.conversations.messages.list(conversation_id=conversation.id),
        lambda: coze.chat.retrieve(conversation_id=conversation.id, chat_id=answer.chat_id),
        lambda: _answer(coze, user, "still there?", conversation.id),
    ]
    for call in gone:
        with pytest.raises(CozeAPIError) as info:
            call()
        assert _code(info) == NOT_FOUND
    assert conversation.id not in {c.id for c in coze.conversations.list(bot_id=DEMO_BOT_ID)}


def test_rename_needs_a_name(coze: Coze) -> None:
    conversation = coze.conversations.create(bot_id=DEMO_BOT_ID)
    with pytest.raises(CozeAPIError) as info:
        coze.conversations.update(conversation_id=conversation.id)  # the SDK sends {"name": null}
    assert _code(info) == 4000 and "name" in info.value.msg


def test_a_conversation_with_a_running_chat_is_not_deleted(coze: Coze, user: str) -> None:
    chat = coze.chat.create(
        bot_id=DEMO_BOT_ID, user_id=user, additional_messages=[Message.build_user_question_text("/slow go")]
    )
    assert chat.status == ChatStatus.IN_PROGRESS
    with pytest.raises(CozeAPIError) as info:
        coze.conversations.delete(conversation_id=chat.conversation_id)
    assert _code(info) == 4016
    coze.chat.cancel(conversation_id=chat.conversation_id, chat_id=chat.id)
    coze.conversations.delete(conversation_id=chat.conversation_id)
    with pytest.raises(CozeAPIError):
        coze.conversations.retrieve(conversation_id=chat.conversation_id)


def test_another_tokens_conversation_is_out_of_reach(coze: Coze, other: Coze, user: str) -> None:
    conversation = coze.conversations.create(bot_id=DEMO_BOT_ID)
    answer = _answer(coze, user, "mine", conversation.id)
    for call in (
        lambda: other.conversations.update(conversation_id=conversation.id, name="stolen"),
        lambda: other.conversations.delete(conversation_id=conversation.id),
        lambda: other.conversations.messages.feedback.create(
            conversation_id=conversation.id, message_id=answer.id, feedback_type=FeedbackType.UNLIKE
        ),
    ):
        with pytest.raises(CozeAPIError) as info:
            call()
        assert _code(info) == NOT_FOUND
    kept = coze.conversations.retrieve(conversation_id=conversation.id)
    assert kept.id == conversation.id and kept.name == ""


# --- message feedback ----------------------------------------------------------------------------


def test_feedback_is_stored_replaced_and_removed(coze: Coze, user: str, emulator_server) -> None:  # type: ignore[no-untyped-def]
    answer = _answer(coze, user, "rate me")
    feedback = coze.conversations.messages.feedback
    store = emulator_server.app.state.emulator.store
    feedback.create(
        conversation_id=answer.conversation_id,
        message_id=answer.id,
        feedback_type=FeedbackType.LIKE,
        reason_types=["accurate", "friendly"],
        comment="spot on",
    )
    record = store.feedback[answer.id]
    assert (record.feedback_type, record.reason_types, record.comment) == (
        "like",
        ["accurate", "friendly"],
        "spot on",
    )
    assert record.conversation_id == answer.conversation_id
    feedback.create(
        conversation_id=answer.conversation_id, message_id=answer.id, feedback_type=FeedbackType.UNLIKE
    )
    assert store.feedback[answer.id].feedback_type == "unlike" and store.feedback[answer.id].comment == ""
    feedback.delete(conversation_id=answer.conversation_id, message_id=answer.id)
    assert answer.id not in store.feedback
    with pytest.raises(CozeAPIError) as info:
        feedback.delete(conversation_id=answer.conversation_id, message_id=answer.id)
    assert _code(info) == NOT_FOUND


def test_feedback_on_an_unknown_message_or_of_an_unknown_type(coze: Coze, user: str) -> None:
    answer = _answer(coze, user, "hi")
    feedback = coze.conversations.messages.feedback
    with pytest.raises(CozeAPIError) as info:
        feedback.create(
            conversation_id=answer.conversation_id, message_id="7999", feedback_type=FeedbackType.LIKE
        )
    assert _code(info) == NOT_FOUND
    with pytest.raises(CozeAPIError) as info:
        feedback.create(
            conversation_id=answer.conversation_id,
            message_id=answer.id,
            feedback_type="meh",  # type: ignore[arg-type]
        )
    assert _code(info) == 4000 and "feedback_type" in info.value.msg


# --- audio ---------------------------------------------------------------------------------------


def test_voices(coze: Coze) -> None:
    voices = list(coze.audio.voices.list())
    assert [v.voice_id for v in voices] == [v.voice_id for v in VOICES]
    assert all(v.is_system_voice and v.name and v.language_code for v in voices)
    assert list(coze.audio.voices.list(filter_system_voice=True)) == []
    pages = list(coze.audio.voices.list(page_size=2).iter_pages())
    assert [len(p.items) for p in pages] == [2, 1]


def test_speech_is_a_wav_that_transcribes_back(coze: Coze, tmp_path: Path) -> None:
    text = "Hello from botport, 你好!"
    speech = coze.audio.speech.create(
        input=text, voice_id=VOICES[0].voice_id, response_format=AudioFormat.WAV, sample_rate=16000
    )
    path = tmp_path / "speech.wav"
    speech.write_to_file(str(path))
    with wave.open(str(path)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 16000)
        frames = audio.readframes(audio.getnframes())
    assert 0.5 < len(frames) / 2 / 16000 < 3 and any(frames)  # about a second, not silence
    assert speech.response.logid
    with path.open("rb") as file:
        assert coze.audio.transcriptions.create(file=file).text == text


def test_speech_as_pcm_and_speed(coze: Coze, tmp_path: Path) -> None:
    sizes = []
    for speed in (1.0, 2.0):
        speech = coze.audio.speech.create(
            input="abcd", voice_id=VOICES[1].voice_id, response_format=AudioFormat.PCM, speed=speed
        )
        path = tmp_path / f"speech-{speed}.pcm"
        speech.write_to_file(str(path))
        sizes.append(path.stat().st_size)
    assert sizes == [2 * 24000 * 4 // 20, 2 * 24000 * 4 // 40]  # 50 ms a character at 24 kHz, 16 bit


def test_speech_formats_the_emulator_cannot_make(coze: Coze) -> None:
    for fmt in (AudioFormat.MP3, AudioFormat.OGG_OPUS):  # MP3 is the SDK's default
        with pytest.raises(CozeAPIError) as info:
            coze.audio.speech.create(input="hi", voice_id=VOICES[0].voice_id, response_format=fmt)
        assert _code(info) == 4000 and "not supported by the botport emulator" in info.value.msg
        assert "'wav'" in info.value.msg
    with pytest.raises(CozeAPIError) as info:
        coze.audio.speech.create(input="hi", voice_id="nobody", response_format=AudioFormat.WAV)
    assert _code(info) == 4000 and VOICES[0].voice_id in info.value.msg


def test_transcription_of_other_audio(coze: Coze) -> None:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(bytes(1600))
    result = coze.audio.transcriptions.create(file=("recording.wav", out.getvalue()))
    assert result.text == FIXED_TRANSCRIPTION


def test_audio_calls_the_emulator_does_not_serve(coze: Coze) -> None:
    with pytest.raises(CozeAPIError) as info:
        coze.audio.rooms.create(bot_id=DEMO_BOT_ID)
    assert _code(info) == 4000 and "not supported by the botport emulator" in info.value.msg
    with pytest.raises(CozeAPIError) as info:
        coze.audio.voices.clone(voice_name="my voice", file=("a.wav", b"RIFF"), audio_format=AudioFormat.WAV)
    assert _code(info) == 4000 and "/v1/audio/voices/clone" in info.value.msg
