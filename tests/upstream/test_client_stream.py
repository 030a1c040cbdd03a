"""CozeClient streaming over httpx.MockTransport: recorded streams, every failure mapping, closing."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from coze_fakes import (
    DATA,
    LOGID,
    TOKEN,
    RecordingStream,
    body_of,
    chat_json,
    chunked,
    envelope_response,
    make_client,
    recorded,
    sse_event,
    sse_response,
)

from botport import __version__
from botport.errors import (
    BotNotPublishedError,
    ChatFailedError,
    CozeAPIError,
    CozeAuthError,
    RateLimitedError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from botport.upstream.client import CozeClient
from botport.upstream.events import ChatEvent, ChatEventType
from botport.upstream.models import ChatStatus, EnterMessage, MessageType, ToolOutput

QUESTION = [EnterMessage.user_text("今天星期几？")]


async def collect(client: CozeClient, **kwargs: object) -> list[ChatEvent]:
    async with client.stream_chat(bot_id="bot-1", user_id="user-1", messages=QUESTION, **kwargs) as s:  # type: ignore[arg-type]
        return [event async for event in s]


async def collect_until_error(client: CozeClient) -> tuple[list[ChatEvent], UpstreamError]:
    events: list[ChatEvent] = []
    with pytest.raises(UpstreamError) as info:
        async with client.stream_chat(bot_id="bot-1", user_id="user-1", messages=QUESTION) as s:
            async for event in s:
                events.append(event)
    return events, info.value


def assert_no_token(error: BaseException) -> None:
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)
    if isinstance(error, UpstreamError):
        assert TOKEN not in json.dumps(error.to_dict())


# --- the happy paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 7, 4096], ids=["bytewise", "small", "whole"])
async def test_text_turn(chunk_size: int) -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return sse_response(RecordingStream(chunked(recorded("coze_text_turn.sse"), chunk_size)))

    async with (
        make_client(handler) as client,
        client.stream_chat(
            bot_id="bot-1",
            user_id="user-1",
            messages=QUESTION,
            conversation_id="conv-9",
            custom_variables={"tone": "warm"},
            meta_data={"k": "v"},
        ) as stream,
    ):
        assert stream.logid == LOGID
        events = [event async for event in stream]

    types = [e.type for e in events]
    assert types[:2] == [ChatEventType.CHAT_CREATED, ChatEventType.CHAT_IN_PROGRESS]
    assert types[-1] is ChatEventType.CHAT_COMPLETED  # ``done`` ends the iteration, not yielded
    deltas = [e.message.content for e in events if e.type is ChatEventType.MESSAGE_DELTA and e.message]
    answers = [
        e.message
        for e in events
        if e.type is ChatEventType.MESSAGE_COMPLETED and e.message and e.message.type is MessageType.ANSWER
    ]
    assert len(answers) == 1
    assert "".join(deltas) == answers[0].content
    assert "\u2028" in answers[0].content and "🌳" in answers[0].content
    follow_ups = [e.message.content for e in events if e.message and e.message.type is MessageType.FOLLOW_UP]
    assert follow_ups == ["周末还有什么好去处？", "推荐一家咖啡馆"]
    final = events[-1].chat
    assert final is not None and final.usage is not None
    assert final.status is ChatStatus.COMPLETED and final.usage.output_count == 19
    assert stream.final_chat == final

    (request,) = requests
    assert request.method == "POST"
    assert request.url.path == "/v3/chat"
    assert request.url.params["conversation_id"] == "conv-9"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"] == f"botport/{__version__}"
    body = body_of(request)
    assert body["bot_id"] == "bot-1" and body["user_id"] == "user-1"
    assert body["stream"] is True and body["auto_save_history"] is True
    assert body["additional_messages"] == [
        {"role": "user", "type": "question", "content": "今天星期几？", "content_type": "text"}
    ]
    assert body["custom_variables"] == {"tone": "warm"} and body["meta_data"] == {"k": "v"}
    assert "conversation_id" not in body


async def test_without_conversation_id_no_query_parameter() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return sse_response(recorded("coze_text_turn.sse"))

    async with make_client(handler) as client:
        await collect(client)
    assert "conversation_id" not in seen[0].url.params
    assert "custom_variables" not in body_of(seen[0])


@pytest.mark.parametrize("line_end", [b"\r\n", b"\r"], ids=["CRLF", "CR"])
async def test_other_line_endings_give_the_same_events(line_end: bytes) -> None:
    body = recorded("coze_text_turn.sse")

    async with make_client(lambda r: sse_response(body)) as client:
        expected = await collect(client)
    converted = body.replace(b"\n", line_end)
    async with make_client(lambda r: sse_response(RecordingStream(chunked(converted, 5)))) as client:
        assert await collect(client) == expected


async def test_reasoning_deltas() -> None:
    async with make_client(lambda r: sse_response(recorded("coze_reasoning_turn.sse"))) as client:
        events = await collect(client)
    messages = [e.message for e in events if e.type is ChatEventType.MESSAGE_DELTA and e.message]
    assert "".join(m.reasoning_content for m in messages) == "用户问天气，先想想。"
    assert "".join(m.content for m in messages) == "晴天。"


async def test_requires_action_is_yielded_and_ends_the_stream() -> None:
    stream_body = RecordingStream([recorded("coze_tool_turn.sse")])
    async with make_client(lambda r: sse_response(stream_body)) as client:
        events = await collect(client)
    assert events[-1].type is ChatEventType.CHAT_REQUIRES_ACTION
    chat = events[-1].chat
    assert chat is not None and chat.required_action is not None
    (call,) = chat.required_action.submit_tool_outputs.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "北京"}
    function_calls = [e for e in events if e.message and e.message.type is MessageType.FUNCTION_CALL]
    assert len(function_calls) == 1
    assert stream_body.closed


async def test_stream_submit_tool_outputs() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return sse_response(recorded("coze_tool_outputs_turn.sse"))

    async with (
        make_client(handler) as client,
        client.stream_submit_tool_outputs(
            conversation_id="conv-1",
            chat_id="chat-1",
            tool_outputs=[ToolOutput(tool_call_id="call-1", output='{"temperature": 21}')],
        ) as stream,
    ):
        events = [e async for e in stream]
    assert events[-1].type is ChatEventType.CHAT_COMPLETED
    assert any(e.message and e.message.type is MessageType.TOOL_RESPONSE for e in events)
    (request,) = seen
    assert request.url.path == "/v3/chat/submit_tool_outputs"
    assert dict(request.url.params) == {"conversation_id": "conv-1", "chat_id": "chat-1"}
    assert body_of(request) == {
        "tool_outputs": [{"tool_call_id": "call-1", "output": '{"temperature": 21}'}],
        "stream": True,
    }


async def test_unknown_events_are_yielded_with_their_name() -> None:
    async with make_client(lambda r: sse_response(recorded("coze_unknown_events.sse"))) as client:
        events = await collect(client)
    unknown = [e for e in events if e.type is ChatEventType.UNKNOWN]
    assert [e.name for e in unknown] == ["conversation.chat.section_started", "message"]
    assert unknown[0].data == '{"section_id":"1"}'
    assert unknown[1].data == "an unnamed event\non two lines"
    assert events[0].type is ChatEventType.CHAT_CREATED  # "event: name" with a space works too
    assert events[-1].type is ChatEventType.CHAT_COMPLETED


async def test_done_without_a_final_chat_event_ends_normally() -> None:
    body = sse_event("conversation.chat.created", chat_json("created")) + sse_event("done", '"[DONE]"')
    async with make_client(lambda r: sse_response(body)) as client:
        events = await collect(client)
    assert [e.type for e in events] == [ChatEventType.CHAT_CREATED]


# --- errors inside the stream ---------------------------------------------------------------------


async def test_chat_failed_raises_with_last_error_after_the_earlier_events() -> None:
    async with make_client(lambda r: sse_response(recorded("coze_failed_turn.sse"))) as client:
        events, error = await collect_until_error(client)
    assert isinstance(error, ChatFailedError)
    assert error.upstream_code == 5000
    assert error.message == "model service error, please retry"
    assert error.logid == LOGID
    assert [e.type for e in events] == [ChatEventType.CHAT_CREATED, ChatEventType.CHAT_IN_PROGRESS]


async def test_error_event_raises_the_typed_error_and_keeps_the_partial_answer() -> None:
    async with make_client(lambda r: sse_response(recorded("coze_error_event.sse"))) as client:
        events, error = await collect_until_error(client)
    assert isinstance(error, RateLimitedError)
    assert error.upstream_code == 4013 and error.logid == LOGID
    partial = "".join(e.message.content for e in events if e.message)
    assert partial == "部分回答"


async def test_empty_error_event_is_an_unknown_coze_error() -> None:
    async with make_client(lambda r: sse_response(recorded("coze_error_empty.sse"))) as client:
        events, error = await collect_until_error(client)
    assert type(error) is CozeAPIError
    assert error.upstream_code is None
    assert error.message == "unknown error"
    assert error.logid == LOGID
    assert len(events) == 1


async def test_bad_json_in_data_is_a_protocol_error() -> None:
    body = (
        sse_event("conversation.chat.created", chat_json("created"))
        + b"event:conversation.message.delta\ndata:{not json\n\n"
    )
    async with make_client(lambda r: sse_response(body)) as client:
        events, error = await collect_until_error(client)
    assert isinstance(error, UpstreamProtocolError) and error.logid == LOGID
    assert len(events) == 1


async def test_chat_event_without_an_id_is_a_protocol_error() -> None:
    body = sse_event("conversation.chat.created", {"status": "created"})
    async with make_client(lambda r: sse_response(body)) as client:
        _, error = await collect_until_error(client)
    assert isinstance(error, UpstreamProtocolError)


async def test_stream_that_ends_before_the_chat_finished_is_a_cut() -> None:
    body = recorded("coze_text_turn.sse")
    cut = body.index(b"event:conversation.message.completed")
    async with make_client(lambda r: sse_response(body[:cut])) as client:
        events, error = await collect_until_error(client)
    assert isinstance(error, UpstreamConnectionError)
    assert "stream cut" in error.message and error.logid == LOGID
    assert sum(1 for e in events if e.type is ChatEventType.MESSAGE_DELTA) == 5


async def test_stream_cut_mid_event_drops_the_half_event() -> None:
    body = recorded("coze_text_turn.sse")
    cut = body.index(b"event:conversation.message.completed") + 60
    async with make_client(lambda r: sse_response(body[:cut])) as client:
        events, error = await collect_until_error(client)
    assert isinstance(error, UpstreamConnectionError)
    assert all(e.type is not ChatEventType.MESSAGE_COMPLETED for e in events)


@pytest.mark.parametrize(
    ("exc", "expected", "words"),
    [
        (httpx.RemoteProtocolError("peer closed"), UpstreamConnectionError, "stream cut"),
        (httpx.ReadError("reset"), UpstreamConnectionError, "stream cut"),
        (httpx.ReadTimeout("slow"), UpstreamTimeout, "read timeout"),
    ],
)
async def test_transport_failure_mid_stream(
    exc: Exception, expected: type[UpstreamError], words: str
) -> None:
    body = recorded("coze_text_turn.sse")
    head = body[: body.index(b"event:conversation.message.completed")]
    stream_body = RecordingStream(chunked(head, 100), fail_with=exc)
    async with make_client(lambda r: sse_response(stream_body)) as client:
        events, error = await collect_until_error(client)
    assert type(error) is expected
    assert words in error.message and error.logid == LOGID
    assert isinstance(error.__cause__, type(exc))
    assert sum(1 for e in events if e.type is ChatEventType.MESSAGE_DELTA) == 5
    assert stream_body.closed
    assert_no_token(error)


# --- errors before the stream ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "expected", "words"),
    [
        (httpx.ConnectError("refused"), UpstreamConnectionError, "cannot connect"),
        (httpx.ConnectTimeout("slow"), UpstreamTimeout, "connect timeout"),
        (httpx.ReadTimeout("slow"), UpstreamTimeout, "read timeout"),
        (httpx.WriteTimeout("slow"), UpstreamTimeout, "timeout"),
        (httpx.RemoteProtocolError("bad"), UpstreamConnectionError, "connection to Coze failed"),
    ],
)
async def test_transport_failure_before_the_response(
    exc: Exception, expected: type[UpstreamError], words: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    async with make_client(handler) as client:
        with pytest.raises(expected) as info:
            await collect(client)
    assert words in info.value.message
    assert_no_token(info.value)


async def test_json_envelope_instead_of_a_stream() -> None:
    response = envelope_response(code=4015, msg="The bot is not published to the API channel")
    async with make_client(lambda r: response) as client:
        with pytest.raises(BotNotPublishedError) as info:
            await collect(client)
    assert info.value.upstream_code == 4015
    assert info.value.logid == LOGID
    assert info.value.http_status == 200
    assert "not published" in info.value.message


async def test_envelope_logid_from_detail_when_no_header() -> None:
    response = envelope_response(
        code=4100, msg="authentication is invalid", logid=None, detail_logid="from-body"
    )
    async with make_client(lambda r: response) as client:
        with pytest.raises(CozeAuthError) as info:
            await collect(client)
    assert info.value.logid == "from-body"


async def test_http_error_with_envelope_is_the_coze_error() -> None:
    response = envelope_response(code=4100, msg="token expired", status=401)
    async with make_client(lambda r: response) as client:
        with pytest.raises(CozeAuthError) as info:
            await collect(client)
    assert info.value.http_status == 401 and info.value.logid == LOGID


async def test_http_error_without_envelope_is_an_http_error_with_an_excerpt() -> None:
    html = f"<html><body><h1>502 Bad Gateway</h1> echo: Bearer {TOKEN} {'x' * 5000}</body></html>"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text=html, headers={"x-tt-logid": LOGID, "content-type": "text/html"})

    async with make_client(handler) as client:
        with pytest.raises(UpstreamHTTPError) as info:
            await collect(client)
    error = info.value
    assert error.http_status == 502 and error.logid == LOGID
    assert "HTTP 502" in error.message and "502 Bad Gateway" in error.message
    assert len(error.message) < 300
    assert_no_token(error)


@pytest.mark.parametrize("padding", range(180, 205))
async def test_no_part_of_an_echoed_token_at_the_excerpt_cut(padding: int) -> None:
    body = "p" * padding + TOKEN + "q" * 500

    async with make_client(lambda r: httpx.Response(500, text=body)) as client:
        with pytest.raises(UpstreamHTTPError) as info:
            await collect(client)
    assert TOKEN[:8] not in info.value.message


async def test_http_error_with_an_event_stream_content_type_is_still_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, content=b"overloaded", headers={"content-type": "text/event-stream"})

    async with make_client(handler) as client:
        with pytest.raises(UpstreamHTTPError) as info:
            await collect(client)
    assert info.value.http_status == 503


async def test_success_envelope_where_a_stream_was_asked_is_a_protocol_error() -> None:
    async with make_client(lambda r: envelope_response(chat_json())) as client:
        with pytest.raises(UpstreamProtocolError) as info:
            await collect(client)
    assert "expected an event stream" in info.value.message and info.value.logid == LOGID


# --- closing --------------------------------------------------------------------------------------


async def test_early_exit_closes_the_upstream_response() -> None:
    stream_body = RecordingStream(chunked(recorded("coze_text_turn.sse"), 200))
    async with make_client(lambda r: sse_response(stream_body)) as client:
        async with client.stream_chat(bot_id="b", user_id="u", messages=QUESTION) as stream:
            async for event in stream:
                if event.type is ChatEventType.MESSAGE_DELTA:
                    break
        assert stream_body.closed
        assert stream_body.sent < len(stream_body.chunks)


async def test_exception_in_the_consumer_closes_the_upstream_response() -> None:
    stream_body = RecordingStream(chunked(recorded("coze_text_turn.sse"), 200))
    async with make_client(lambda r: sse_response(stream_body)) as client:
        with pytest.raises(LookupError):
            async with client.stream_chat(bot_id="b", user_id="u", messages=QUESTION) as stream:
                async for _event in stream:
                    raise LookupError("the consumer failed")
    assert stream_body.closed


async def test_cancelled_consumer_closes_the_upstream_response() -> None:
    first = sse_event("conversation.chat.created", chat_json("created"))
    stream_body = RecordingStream([first], hold=asyncio.Event())  # then waits forever
    got_first = asyncio.Event()

    async def consume(client: CozeClient) -> None:
        async with client.stream_chat(bot_id="b", user_id="u", messages=QUESTION) as stream:
            async for _event in stream:
                got_first.set()

    async with make_client(lambda r: sse_response(stream_body)) as client:
        task = asyncio.create_task(consume(client))
        await asyncio.wait_for(got_first.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert stream_body.closed


async def test_error_responses_are_closed_too() -> None:
    stream_body = RecordingStream([b'{"code": 4016, "msg": "conversation busy"}'])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=stream_body)

    async with make_client(handler) as client:
        with pytest.raises(CozeAPIError) as info:
            await collect(client)
    assert info.value.code == "conversation_busy"
    assert stream_body.closed


async def test_iterating_after_the_end_stays_ended() -> None:
    client = make_client(lambda r: sse_response(recorded("coze_text_turn.sse")))
    async with client, client.stream_chat(bot_id="b", user_id="u", messages=QUESTION) as stream:
        first = [e async for e in stream]
        again = [e async for e in stream]
    assert first and again == []


async def test_debug_log_has_no_token_and_no_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="botport.upstream")
    async with make_client(lambda r: sse_response(recorded("coze_text_turn.sse"))) as client:
        await collect(client)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST /v3/chat -> 200" in text and LOGID in text
    assert TOKEN not in text and "星期" not in text


# --- the emulator's recorded streams (written by its own encoder) ---------------------------------

EMULATOR_RECORDINGS = {
    "emulator_demo_turn.sse": ChatEventType.CHAT_COMPLETED,
    "emulator_tool_requires_action.sse": ChatEventType.CHAT_REQUIRES_ACTION,
    "emulator_failing_turn.sse": None,  # ends with chat.failed
}


@pytest.mark.parametrize("name", sorted(EMULATOR_RECORDINGS))
async def test_emulator_recordings(name: str) -> None:
    if not (DATA / name).exists():
        pytest.skip(f"{name} not recorded yet")
    body = RecordingStream(chunked(recorded(name), 64))
    events: list[ChatEvent] = []
    async with make_client(lambda r: sse_response(body)) as client:
        try:
            async with client.stream_chat(bot_id="b", user_id="u", messages=QUESTION) as stream:
                async for event in stream:
                    events.append(event)
        except ChatFailedError as exc:
            assert EMULATOR_RECORDINGS[name] is None
            assert exc.upstream_code == 5000 and exc.logid == LOGID
        else:
            assert events[-1].type is EMULATOR_RECORDINGS[name]
    assert body.closed
    assert all(e.type is not ChatEventType.UNKNOWN for e in events)
    messages = [e.message for e in events if e.message]
    completed_answers = [m.content for m in messages if m.type is MessageType.ANSWER and m.id and m.content]
    if any(e.type is ChatEventType.MESSAGE_DELTA for e in events) and EMULATOR_RECORDINGS[name]:
        joined = "".join(
            e.message.content for e in events if e.type is ChatEventType.MESSAGE_DELTA and e.message
        )
        assert joined in completed_answers
