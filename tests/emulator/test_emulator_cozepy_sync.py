"""Contract tests: Coze's official SDK (sync client) against the emulator on a real uvicorn server."""

from __future__ import annotations

import time

import pytest
from cozepy import (
    Chat,
    ChatEventType,
    ChatStatus,
    Coze,
    CozeAPIError,
    Message,
    MessageObjectString,
    MessageType,
    ToolOutput,
)
from emulator_helpers import OTHER_TOKEN, cozepy_client

from botport.emulator.bots import DEMO_BOT_ID, FAILING_BOT_ID, TOOL_BOT_ID

pytestmark = pytest.mark.live


def _ask(text: str) -> list[Message]:
    return [Message.build_user_question_text(text)]


def _turn(coze: Coze, user: str, text: str | list[Message], conversation_id: str | None = None) -> Message:
    """One streamed turn (faster than create_and_poll, which sleeps 1 s); its answer message."""
    messages = _ask(text) if isinstance(text, str) else text
    events = coze.chat.stream(
        bot_id=DEMO_BOT_ID, user_id=user, conversation_id=conversation_id, additional_messages=messages
    )
    completed = [e.message for e in events if e.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED]
    return next(m for m in completed if m and m.type == MessageType.ANSWER)


def test_stream_demo_answer(coze: Coze, user: str) -> None:
    question = '<script>alert("x")</script> & 星期三'
    events = list(coze.chat.stream(bot_id=DEMO_BOT_ID, user_id=user, additional_messages=_ask(question)))
    kinds = [e.event for e in events]
    assert kinds[:2] == [ChatEventType.CONVERSATION_CHAT_CREATED, ChatEventType.CONVERSATION_CHAT_IN_PROGRESS]
    assert kinds[-1] == ChatEventType.CONVERSATION_CHAT_COMPLETED  # done is consumed by the SDK
    deltas = [e.message for e in events if e.event == ChatEventType.CONVERSATION_MESSAGE_DELTA]
    reasoning = "".join(m.reasoning_content or "" for m in deltas if m)
    text = "".join(m.content for m in deltas if m)
    assert reasoning and text
    first_answer_delta = next(i for i, m in enumerate(deltas) if m and m.content)
    assert all(m and not m.content for m in deltas[:first_answer_delta])  # thinking comes first
    completed = [e.message for e in events if e.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED]
    answer = next(m for m in completed if m and m.type == MessageType.ANSWER)
    assert answer.content == text and answer.reasoning_content == reasoning
    assert question in answer.content and "**Turn 1.**" in answer.content
    assert len([m for m in completed if m and m.type == MessageType.FOLLOW_UP]) == 3
    verbose = next(m for m in completed if m and m.type == MessageType.VERBOSE)
    assert '"generate_answer_finish"' in verbose.content
    chat = events[-1].chat
    assert chat is not None and chat.usage is not None and chat.usage.output_count > 0
    assert chat.usage.token_count == chat.usage.input_count + chat.usage.output_count
    assert events[0].response.logid


def test_second_turn_remembers_the_first(coze: Coze, user: str) -> None:
    first = list(
        coze.chat.stream(bot_id=DEMO_BOT_ID, user_id=user, additional_messages=_ask("first question"))
    )
    conversation_id = first[0].chat.conversation_id  # type: ignore[union-attr]
    second = list(
        coze.chat.stream(
            bot_id=DEMO_BOT_ID,
            user_id=user,
            conversation_id=conversation_id,
            additional_messages=_ask("second question"),
        )
    )
    answer = next(
        e.message
        for e in second
        if e.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED
        and e.message
        and e.message.type == "answer"
    )
    assert "**Turn 2.**" in answer.content and "second question" in answer.content
    assert "first question" in answer.content
    assert second[0].chat.conversation_id == conversation_id  # type: ignore[union-attr]


def test_create_and_poll(coze: Coze, user: str) -> None:
    poll = coze.chat.create_and_poll(bot_id=DEMO_BOT_ID, user_id=user, additional_messages=_ask("poll me"))
    assert poll.chat.status == ChatStatus.COMPLETED
    assert poll.messages is not None
    by_type = {m.type for m in poll.messages}
    assert {MessageType.ANSWER, MessageType.FOLLOW_UP, MessageType.VERBOSE} <= by_type
    answer = next(m for m in poll.messages if m.type == MessageType.ANSWER)
    assert "poll me" in answer.content
    listed = coze.chat.messages.list(conversation_id=poll.chat.conversation_id, chat_id=poll.chat.id)
    assert [m.id for m in listed] == [m.id for m in poll.messages]


def test_non_stream_chat_reports_in_progress_then_completed(coze: Coze, user: str) -> None:
    chat = coze.chat.create(
        bot_id=DEMO_BOT_ID, user_id=user, additional_messages=_ask("/slow take your time")
    )
    assert chat.status == ChatStatus.IN_PROGRESS
    again = coze.chat.retrieve(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert again.status == ChatStatus.IN_PROGRESS
    canceled = coze.chat.cancel(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert canceled.status == ChatStatus.CANCELED
    with pytest.raises(CozeAPIError) as info:
        coze.chat.cancel(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert info.value.code == 4104 and info.value.logid


def test_cancel_stops_a_running_stream(coze: Coze, user: str) -> None:
    stream = coze.chat.stream(bot_id=DEMO_BOT_ID, user_id=user, additional_messages=_ask("/slow go slowly"))
    chat: Chat | None = None
    seen = []
    for event in stream:
        seen.append(event.event)
        if event.event == ChatEventType.CONVERSATION_MESSAGE_DELTA and chat is None:
            chat = coze.chat.cancel(
                conversation_id=event.message.conversation_id, chat_id=event.message.chat_id
            )  # type: ignore[union-attr]
    assert chat is not None and chat.status == ChatStatus.CANCELED
    assert ChatEventType.CONVERSATION_CHAT_COMPLETED not in seen
    assert seen[-1] == ChatEventType.UNKNOWN  # conversation.chat.canceled, then done
    retrieved = coze.chat.retrieve(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert retrieved.status == ChatStatus.CANCELED


@pytest.mark.parametrize("stream", [True, False])
def test_submit_tool_outputs(coze: Coze, user: str, stream: bool) -> None:
    events = list(
        coze.chat.stream(bot_id=TOOL_BOT_ID, user_id=user, additional_messages=_ask("Weather in Oslo?"))
    )
    last = events[-1]
    assert last.event == ChatEventType.CONVERSATION_CHAT_REQUIRES_ACTION and last.chat is not None
    action = last.chat.required_action
    assert action is not None and action.submit_tool_outputs is not None
    call = action.submit_tool_outputs.tool_calls[0]
    assert call.function is not None and call.function.name == "get_weather"
    assert call.function.arguments == '{"city": "Oslo"}'
    chat = coze.chat.retrieve(conversation_id=last.chat.conversation_id, chat_id=last.chat.id)
    assert chat.status == ChatStatus.REQUIRES_ACTION

    outputs = [ToolOutput(tool_call_id=call.id, output="Sunny, 21 °C")]
    result = coze.chat.submit_tool_outputs(
        conversation_id=chat.conversation_id, chat_id=chat.id, tool_outputs=outputs, stream=stream
    )
    if stream:
        continued = list(result)  # type: ignore[arg-type]
        assert continued[-1].event == ChatEventType.CONVERSATION_CHAT_COMPLETED
        assert continued[-1].chat.id == chat.id  # type: ignore[union-attr]
    else:
        assert isinstance(result, Chat) and result.status == ChatStatus.IN_PROGRESS
        assert _wait_until_done(coze, chat).status == ChatStatus.COMPLETED
    messages = coze.chat.messages.list(conversation_id=chat.conversation_id, chat_id=chat.id)
    types = [m.type for m in messages]
    assert types[0] == MessageType.FUNCTION_CALL and MessageType.TOOL_RESPONSE in types
    answer = next(m for m in messages if m.type == MessageType.ANSWER)
    assert "Oslo" in answer.content and "Sunny, 21 °C" in answer.content


def _wait_until_done(coze: Coze, chat: Chat) -> Chat:
    """Poll once a second, as Coze asks (the emulator refuses faster polling)."""
    deadline = time.monotonic() + 20
    while True:
        chat = coze.chat.retrieve(conversation_id=chat.conversation_id, chat_id=chat.id)
        if chat.status != ChatStatus.IN_PROGRESS or time.monotonic() > deadline:
            return chat
        time.sleep(1)


def test_failing_bot(coze: Coze, user: str) -> None:
    events = list(coze.chat.stream(bot_id=FAILING_BOT_ID, user_id=user, additional_messages=_ask("try")))
    assert events[-1].event == ChatEventType.CONVERSATION_CHAT_FAILED
    failed = events[-1].chat
    assert failed is not None and failed.last_error is not None and failed.last_error.code == 5000
    assert failed.status == ChatStatus.FAILED


def test_error_event_raises_in_the_sdk(coze: Coze, user: str) -> None:
    with pytest.raises(Exception, match="error event"):
        list(coze.chat.stream(bot_id=DEMO_BOT_ID, user_id=user, additional_messages=_ask("/error now")))


def test_conversations_and_their_messages(coze: Coze, user: str) -> None:
    conversation = coze.conversations.create(
        bot_id=DEMO_BOT_ID, meta_data={"topic": "tests"}, messages=_ask("seeded question")
    )
    assert conversation.last_section_id and conversation.meta_data == {"topic": "tests"}
    assert coze.conversations.retrieve(conversation_id=conversation.id).id == conversation.id
    for text in ("one", "two"):
        _turn(coze, user, text, conversation.id)
    page = coze.conversations.messages.list(conversation_id=conversation.id, limit=2)
    everything = list(page)  # the SDK follows last_id / has_more
    assert page.has_more and len(page.items) == 2
    contents = [m.content for m in reversed(everything)]  # newest first
    assert contents[0] == "seeded question" and contents[1] == "one" and contents[3] == "two"
    assert [m.type for m in reversed(everything)] == ["question", "question", "answer", "question", "answer"]
    listed = coze.conversations.list(bot_id=DEMO_BOT_ID, page_size=50)
    assert conversation.id in [c.id for c in listed.items]


def test_clear_starts_a_new_section(coze: Coze, user: str) -> None:
    conversation_id = _turn(coze, user, "before").conversation_id
    assert conversation_id is not None
    section = coze.conversations.clear(conversation_id=conversation_id)
    assert section.conversation_id == conversation_id and section.id != conversation_id
    answer = _turn(coze, user, "after", conversation_id)
    assert "**Turn 1.**" in answer.content and "before" not in answer.content


def test_file_upload_and_multimodal_question(coze: Coze, user: str) -> None:
    uploaded = coze.files.upload(file=("notes.txt", b"hello file"))
    assert uploaded.file_name == "notes.txt" and uploaded.bytes == 10
    message = Message.build_user_question_objects(
        [MessageObjectString.build_text("look at this"), MessageObjectString.build_file(file_id=uploaded.id)]
    )
    answer = _turn(coze, user, [message])
    assert "look at this" in answer.content and "1 file" in answer.content


def test_bad_token_raises_4100_with_logid(emulator_server) -> None:  # type: ignore[no-untyped-def]
    client = cozepy_client(emulator_server.base_url, "wrong-token")
    try:
        with pytest.raises(CozeAPIError) as info:
            client.chat.create(bot_id=DEMO_BOT_ID, user_id="u", additional_messages=_ask("hi"))
        assert info.value.code == 4100 and info.value.logid
        with pytest.raises(CozeAPIError) as info:
            client.chat.stream(bot_id=DEMO_BOT_ID, user_id="u", additional_messages=_ask("hi"))
        assert info.value.code == 4100
    finally:
        client._requester.sync_client.close()


def test_unknown_bot(coze: Coze, user: str) -> None:
    with pytest.raises(CozeAPIError) as info:
        coze.chat.stream(bot_id="123", user_id=user, additional_messages=_ask("hi"))
    assert info.value.code == 4000 and "bot_id" in info.value.msg


def test_busy_conversation_gets_4016(coze: Coze, user: str) -> None:
    chat = coze.chat.create(bot_id=DEMO_BOT_ID, user_id=user, additional_messages=_ask("/slow busy"))
    with pytest.raises(CozeAPIError) as info:
        coze.chat.create(
            bot_id=DEMO_BOT_ID,
            user_id=user,
            conversation_id=chat.conversation_id,
            additional_messages=_ask("x"),
        )
    assert info.value.code == 4016
    coze.chat.cancel(conversation_id=chat.conversation_id, chat_id=chat.id)


def test_users_and_tokens_are_isolated(coze: Coze, user: str, emulator_server) -> None:  # type: ignore[no-untyped-def]
    answer = _turn(coze, user, "my secret")
    conversation_id, chat_id = answer.conversation_id, answer.chat_id
    assert conversation_id and chat_id
    with pytest.raises(CozeAPIError) as info:
        coze.chat.create(
            bot_id=DEMO_BOT_ID,
            user_id="intruder",
            conversation_id=conversation_id,
            additional_messages=_ask("x"),
        )
    assert info.value.code == 4200 and "my secret" not in info.value.msg
    other = cozepy_client(emulator_server.base_url, OTHER_TOKEN)
    try:
        with pytest.raises(CozeAPIError) as info:
            other.conversations.retrieve(conversation_id=conversation_id)
        assert info.value.code == 4200
        with pytest.raises(CozeAPIError):
            other.chat.messages.list(conversation_id=conversation_id, chat_id=chat_id)
    finally:
        other._requester.sync_client.close()
