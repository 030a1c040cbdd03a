"""CozeClient against the emulator: in-process (StreamingASGITransport) and on a real uvicorn server,
for every demo bot and fault knob."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from botport.asgi_transport import StreamingASGITransport
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID, FAILING_BOT_ID, SLOW_BOT_ID, TOOL_BOT_ID
from botport.errors import (
    BotNotPublishedError,
    ChatFailedError,
    ConversationBusyError,
    CozeAPIError,
    CozeAuthError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamTimeout,
)
from botport.upstream.client import CozeClient
from botport.upstream.events import ChatEvent, ChatEventType
from botport.upstream.models import ChatStatus, EnterMessage, MessageType, ToolOutput

TOKEN = "demo-token"
FAST = "delta_delay=0"

MakeClient = Callable[..., Awaitable[CozeClient]]


@pytest.fixture(params=["in-process", pytest.param("uvicorn", marks=pytest.mark.live)])
async def coze(
    request: pytest.FixtureRequest, live_server: Callable[..., object]
) -> AsyncIterator[MakeClient]:
    """``await coze(fault=..., token=...)``: a client of one emulator (one per test)."""
    app: Starlette = create_emulator_app(tokens=[TOKEN])
    clients: list[CozeClient] = []
    https: list[httpx.AsyncClient] = []
    in_process = request.param == "in-process"
    base_url = "http://emulator.local" if in_process else live_server(app).url  # type: ignore[attr-defined]

    async def make(fault: str | None = FAST, token: str = TOKEN, read_timeout: float = 30.0) -> CozeClient:
        headers = {"X-Emulator-Fault": fault} if fault else {}
        transport = StreamingASGITransport(app) if in_process else None
        http = httpx.AsyncClient(transport=transport, headers=headers)
        https.append(http)
        client = CozeClient(base_url=base_url, token=SecretStr(token), http=http, read_timeout=read_timeout)
        clients.append(client)
        return client

    if in_process:
        async with app.router.lifespan_context(app):  # its shutdown ends chats still running
            yield make
            for http in https:
                await http.aclose()
    else:
        yield make
        for http in https:
            await http.aclose()


def ask(text: str) -> list[EnterMessage]:
    return [EnterMessage.user_text(text)]


async def run_turn(
    client: CozeClient, bot_id: str, text: str, conversation_id: str | None = None
) -> tuple[list[ChatEvent], str | None]:
    async with client.stream_chat(
        bot_id=bot_id, user_id="user-1", messages=ask(text), conversation_id=conversation_id
    ) as stream:
        return [event async for event in stream], stream.logid


async def run_until_error(
    client: CozeClient, bot_id: str, text: str
) -> tuple[list[ChatEvent], UpstreamError]:
    events: list[ChatEvent] = []
    with pytest.raises(UpstreamError) as info:
        async with client.stream_chat(bot_id=bot_id, user_id="user-1", messages=ask(text)) as stream:
            async for event in stream:
                events.append(event)
    return events, info.value


def deltas(events: list[ChatEvent]) -> list[ChatEvent]:
    return [e for e in events if e.type is ChatEventType.MESSAGE_DELTA]


def answer_text(events: list[ChatEvent]) -> str:
    return "".join(e.message.content for e in deltas(events) if e.message)


def completed(events: list[ChatEvent], kind: MessageType) -> list[str]:
    return [
        e.message.content
        for e in events
        if e.type is ChatEventType.MESSAGE_COMPLETED and e.message and e.message.type is kind
    ]


# --- the demo bots --------------------------------------------------------------------------------


async def test_demo_bot_answers_and_remembers_the_conversation(coze: MakeClient) -> None:
    client = await coze()
    events, logid = await run_turn(client, DEMO_BOT_ID, "What is 星期五? \u2028 🌳")
    assert logid
    assert [e.type for e in events[:2]] == [ChatEventType.CHAT_CREATED, ChatEventType.CHAT_IN_PROGRESS]
    assert events[-1].type is ChatEventType.CHAT_COMPLETED
    final = events[-1].chat
    assert final is not None and final.status is ChatStatus.COMPLETED and final.usage is not None
    (answer,) = completed(events, MessageType.ANSWER)
    assert answer_text(events) == answer
    assert "星期五" in answer and "🌳" in answer
    reasoning = "".join(e.message.reasoning_content for e in deltas(events) if e.message)
    assert reasoning
    assert len(completed(events, MessageType.FOLLOW_UP)) >= 1

    conversation_id = final.conversation_id
    again, _ = await run_turn(client, DEMO_BOT_ID, "And now?", conversation_id=conversation_id)
    (second,) = completed(again, MessageType.ANSWER)
    assert "What is 星期五?" in second  # the bot recalls the previous question: context kept upstream
    assert again[-1].chat is not None and again[-1].chat.conversation_id == conversation_id


async def test_tool_bot_requires_action_then_answers_from_the_output(coze: MakeClient) -> None:
    client = await coze()
    events, _ = await run_turn(client, TOOL_BOT_ID, "What is the weather in Paris?")
    last = events[-1]
    assert last.type is ChatEventType.CHAT_REQUIRES_ACTION
    assert last.chat is not None and last.chat.required_action is not None
    (call,) = last.chat.required_action.submit_tool_outputs.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    async with client.stream_submit_tool_outputs(
        conversation_id=last.chat.conversation_id,
        chat_id=last.chat.id,
        tool_outputs=[ToolOutput(tool_call_id=call.id, output="18°C and sunny")],
    ) as stream:
        rest = [e async for e in stream]
    assert rest[-1].type is ChatEventType.CHAT_COMPLETED
    (answer,) = completed(rest, MessageType.ANSWER)
    assert "18°C and sunny" in answer and "Paris" in answer


async def test_slow_bot_waits_before_its_first_event(coze: MakeClient) -> None:
    client = await coze(fault=FAST)  # keeps the bot's first_delay (1 s), drops its delta delay
    started = time.monotonic()
    events, _ = await run_turn(client, SLOW_BOT_ID, "hello")
    assert time.monotonic() - started >= 0.8
    assert events[-1].type is ChatEventType.CHAT_COMPLETED


async def test_failing_bot_fails_after_a_partial_answer(coze: MakeClient) -> None:
    client = await coze()
    events, error = await run_until_error(client, FAILING_BOT_ID, "hello")
    assert isinstance(error, ChatFailedError)
    assert error.upstream_code == 5000 and error.logid
    assert len(deltas(events)) == 4
    assert answer_text(events)


async def test_wrong_token_is_an_auth_error(coze: MakeClient) -> None:
    client = await coze(token="not-the-token")
    with pytest.raises(CozeAuthError) as info:
        await run_turn(client, DEMO_BOT_ID, "hello")
    assert info.value.upstream_code == 4100 and info.value.logid
    assert "not-the-token" not in str(info.value)


# --- fault knobs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "expected", "upstream_code"),
    [
        ("http_status=503", UpstreamHTTPError, None),
        ("envelope_error=4100", CozeAuthError, 4100),
        ("envelope_error=4015", BotNotPublishedError, 4015),
        ("envelope_error=4016", ConversationBusyError, 4016),
    ],
)
async def test_faults_before_the_stream(
    coze: MakeClient, fault: str, expected: type[UpstreamError], upstream_code: int | None
) -> None:
    client = await coze(fault=fault)
    with pytest.raises(expected) as info:
        await run_turn(client, DEMO_BOT_ID, "hello")
    assert type(info.value) is expected
    assert info.value.upstream_code == upstream_code
    assert info.value.logid
    if expected is UpstreamHTTPError:
        assert info.value.http_status == 503 and "503" in info.value.message


async def test_cut_after_is_a_cut_stream_with_the_partial_answer(coze: MakeClient) -> None:
    client = await coze(fault="delta_delay=0; cut_after=3")
    events, error = await run_until_error(client, DEMO_BOT_ID, "hello")
    assert type(error) is UpstreamConnectionError
    assert "stream cut" in error.message and error.logid
    assert len(deltas(events)) == 3


async def test_error_event_after(coze: MakeClient) -> None:
    client = await coze(fault="delta_delay=0; error_event_after=2")
    events, error = await run_until_error(client, DEMO_BOT_ID, "hello")
    assert isinstance(error, CozeAPIError)
    assert error.upstream_code == 5000 and error.logid
    assert len(deltas(events)) == 2


async def test_first_delay(coze: MakeClient) -> None:
    client = await coze(fault="delta_delay=0; first_delay=0.5")
    started = time.monotonic()
    events, _ = await run_turn(client, DEMO_BOT_ID, "hello")
    assert time.monotonic() - started >= 0.4
    assert events[-1].type is ChatEventType.CHAT_COMPLETED


async def test_read_timeout_inside_a_slow_stream(coze: MakeClient) -> None:
    client = await coze(fault="first_delay=5", read_timeout=0.3)
    with pytest.raises(UpstreamTimeout) as info:
        await run_turn(client, DEMO_BOT_ID, "hello")
    assert "read timeout" in info.value.message


@pytest.mark.parametrize("command", ["/fail", "/error"])
async def test_demo_commands_fail_mid_answer(coze: MakeClient, command: str) -> None:
    client = await coze()
    events, error = await run_until_error(client, DEMO_BOT_ID, f"{command} please")
    assert isinstance(error, ChatFailedError if command == "/fail" else CozeAPIError)
    assert error.upstream_code == 5000
    assert deltas(events)


# --- several requests -----------------------------------------------------------------------------


async def test_second_chat_on_a_busy_conversation(coze: MakeClient) -> None:
    client = await coze(fault="delta_delay=0.2")
    async with client.stream_chat(bot_id=DEMO_BOT_ID, user_id="user-1", messages=ask("first")) as stream:
        async for event in stream:
            if event.chat is not None:
                conversation_id = event.chat.conversation_id
                break
    with pytest.raises(ConversationBusyError) as info:
        second = client.stream_chat(
            bot_id=DEMO_BOT_ID, user_id="user-1", messages=ask("second"), conversation_id=conversation_id
        )
        async with second:
            pass
    assert info.value.logid and info.value.status == 409


async def test_cancel_a_running_chat(coze: MakeClient) -> None:
    client = await coze(fault="first_delay=5")
    async with client.stream_chat(bot_id=DEMO_BOT_ID, user_id="user-1", messages=ask("x")) as stream:
        async for event in stream:
            assert event.chat is not None
            chat = event.chat
            break
    canceled = await client.cancel_chat(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert canceled.status is ChatStatus.CANCELED
    with pytest.raises(CozeAPIError) as info:
        await client.cancel_chat(conversation_id=chat.conversation_id, chat_id=chat.id)
    assert info.value.upstream_code == 4104


async def test_early_exit_then_the_client_still_works(coze: MakeClient) -> None:
    client = await coze(fault="delta_delay=0.05")
    async with client.stream_chat(bot_id=DEMO_BOT_ID, user_id="user-1", messages=ask("one")) as stream:
        async for event in stream:
            if event.type is ChatEventType.MESSAGE_DELTA:
                break
    fast = await coze()
    events, _ = await run_turn(fast, DEMO_BOT_ID, "two")
    assert events[-1].type is ChatEventType.CHAT_COMPLETED


async def test_incremental_delivery(coze: MakeClient) -> None:
    """The first delta reaches the client long before the answer ends (nothing buffers the body)."""
    client = await coze(fault="delta_delay=0.02")
    arrivals: list[tuple[float, ChatEventType]] = []
    async with client.stream_chat(bot_id=DEMO_BOT_ID, user_id="user-1", messages=ask("stream")) as stream:
        async for event in stream:
            arrivals.append((time.monotonic(), event.type))
    first_delta = next(t for t, kind in arrivals if kind is ChatEventType.MESSAGE_DELTA)
    end = next(t for t, kind in arrivals if kind is ChatEventType.CHAT_COMPLETED)
    count = sum(1 for _, kind in arrivals if kind is ChatEventType.MESSAGE_DELTA)
    assert count >= 20
    # count x 20 ms (> 0.4 s) of deltas follow the first one; a buffered body would arrive at once.
    assert end - first_delta >= 0.3, (end - first_delta, count)


async def test_demo_mode_wiring_with_the_default_base_url() -> None:
    """As the gateway wires demo mode: the in-process emulator behind the default (https) base URL."""
    app = create_emulator_app(tokens=["t0k"])
    async with (
        app.router.lifespan_context(app),
        CozeClient(token=SecretStr("t0k"), transport=StreamingASGITransport(app)) as client,
    ):
        events, logid = await run_turn(client, DEMO_BOT_ID, "hi")  # the bot's own 20 ms delta delay
    assert logid and events[-1].type is ChatEventType.CHAT_COMPLETED
