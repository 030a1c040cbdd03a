"""CozeClient's non-streaming calls and create_and_poll, over httpx.MockTransport."""

from __future__ import annotations

import inspect
import time

import httpx
import pytest
from coze_fakes import (
    BASE_URL,
    LOGID,
    TOKEN,
    body_of,
    chat_json,
    envelope_response,
    make_client,
)
from pydantic import SecretStr

from botport.errors import (
    ChatFailedError,
    ConversationBusyError,
    UpstreamHTTPError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from botport.upstream.client import CozeClient
from botport.upstream.models import ChatStatus, EnterMessage, MessageType, ToolOutput

QUESTION = [EnterMessage.user_text("hello")]


def message_json(type_: str, content: str) -> dict[str, object]:
    return {"id": f"m-{type_}", "conversation_id": "conv-1", "chat_id": "chat-1", "role": "assistant",
            "type": type_, "content": content, "content_type": "text"}  # fmt: skip


async def test_create_chat_sends_stream_false() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope_response(chat_json("created"))

    async with make_client(handler) as client:
        chat = await client.create_chat(bot_id="b", user_id="u", messages=QUESTION, conversation_id="conv-1")
    assert chat.status is ChatStatus.CREATED and chat.id == "chat-1"
    body = body_of(seen[0])
    assert body["stream"] is False and body["auto_save_history"] is True
    assert seen[0].url.params["conversation_id"] == "conv-1"


async def test_retrieve_list_cancel_submit() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path == "/v3/chat/retrieve":
            return envelope_response(chat_json("completed", usage={"token_count": 3}))
        if path == "/v3/chat/message/list":
            return envelope_response([message_json("answer", "hi"), message_json("follow_up", "more?")])
        if path == "/v3/chat/cancel":
            return envelope_response(chat_json("canceled"))
        if path == "/v3/chat/submit_tool_outputs":
            return envelope_response(chat_json("in_progress"))
        return httpx.Response(404)

    async with make_client(handler) as client:
        chat = await client.retrieve_chat(conversation_id="conv-1", chat_id="chat-1")
        messages = await client.list_chat_messages(conversation_id="conv-1", chat_id="chat-1")
        canceled = await client.cancel_chat(conversation_id="conv-1", chat_id="chat-1")
        continued = await client.submit_tool_outputs(
            conversation_id="conv-1",
            chat_id="chat-1",
            tool_outputs=[ToolOutput(tool_call_id="t", output="42")],
        )
    assert chat.status is ChatStatus.COMPLETED and chat.usage is not None and chat.usage.token_count == 3
    assert [m.type for m in messages] == [MessageType.ANSWER, MessageType.FOLLOW_UP]
    assert canceled.status is ChatStatus.CANCELED
    assert continued.status is ChatStatus.IN_PROGRESS
    retrieve, listing, cancel, submit = seen
    assert retrieve.method == "GET"
    assert dict(retrieve.url.params) == {"conversation_id": "conv-1", "chat_id": "chat-1"}
    assert dict(listing.url.params) == {"conversation_id": "conv-1", "chat_id": "chat-1"}
    assert cancel.method == "POST" and body_of(cancel) == {"conversation_id": "conv-1", "chat_id": "chat-1"}
    assert body_of(submit) == {"tool_outputs": [{"tool_call_id": "t", "output": "42"}], "stream": False}
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seen)


async def test_conversations() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope_response(
            {"id": "conv-7", "created_at": 1718792949, "meta_data": {}, "last_section_id": "s"}
        )

    async with make_client(handler) as client:
        created = await client.create_conversation(bot_id="b", messages=QUESTION, meta_data={"a": "b"})
        fetched = await client.retrieve_conversation("conv-7")
    assert created.id == fetched.id == "conv-7"
    assert seen[0].url.path == "/v1/conversation/create"
    assert body_of(seen[0])["bot_id"] == "b" and body_of(seen[0])["meta_data"] == {"a": "b"}
    assert seen[1].method == "GET" and seen[1].url.params["conversation_id"] == "conv-7"


async def test_empty_message_list() -> None:
    async with make_client(lambda r: envelope_response()) as client:
        assert await client.list_chat_messages(conversation_id="c", chat_id="x") == []


async def test_envelope_error_on_a_call() -> None:
    response = envelope_response(code=4016, msg="conversation has a chat in progress")
    async with make_client(lambda r: response) as client:
        with pytest.raises(ConversationBusyError) as info:
            await client.create_chat(bot_id="b", user_id="u", messages=QUESTION)
    assert info.value.logid == LOGID and info.value.status == 409


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(200, text="<html>", headers={"x-tt-logid": LOGID}), UpstreamProtocolError),
        (httpx.Response(200, json={"id": "chat-1"}, headers={"x-tt-logid": LOGID}), UpstreamProtocolError),
        (
            httpx.Response(200, json={"code": 0, "data": {"no": "id"}}, headers={"x-tt-logid": LOGID}),
            UpstreamProtocolError,
        ),
        (httpx.Response(500, text="Internal Server Error", headers={"x-tt-logid": LOGID}), UpstreamHTTPError),
        (httpx.Response(404, json={"detail": "Not Found"}, headers={"x-tt-logid": LOGID}), UpstreamHTTPError),
    ],
)
async def test_bad_answers_to_a_call(response: httpx.Response, expected: type[Exception]) -> None:
    async with make_client(lambda r: response) as client:
        with pytest.raises(expected) as info:
            await client.retrieve_chat(conversation_id="c", chat_id="x")
    assert getattr(info.value, "logid", None) == LOGID


async def test_message_list_that_is_not_a_list() -> None:
    async with make_client(lambda r: envelope_response({"not": "a list"})) as client:
        with pytest.raises(UpstreamProtocolError):
            await client.list_chat_messages(conversation_id="c", chat_id="x")


# --- create_and_poll ------------------------------------------------------------------------------


class PollingCoze:
    """A fake Coze whose chat finishes after ``polls_needed`` retrieves (never, when None)."""

    def __init__(self, polls_needed: int | None, final_status: str = "completed") -> None:
        self.polls_needed = polls_needed
        self.final_status = final_status
        self.retrieve_times: list[float] = []
        self.cancels: list[dict[str, str]] = []
        self.listed = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v3/chat":
            return envelope_response(chat_json("created"))
        if path == "/v3/chat/retrieve":
            self.retrieve_times.append(time.monotonic())
            done = self.polls_needed is not None and len(self.retrieve_times) >= self.polls_needed
            if not done:
                return envelope_response(chat_json("in_progress"))
            extra = {"last_error": {"code": 5000, "msg": "boom"}} if self.final_status == "failed" else {}
            return envelope_response(chat_json(self.final_status, **extra))
        if path == "/v3/chat/message/list":
            self.listed += 1
            return envelope_response([message_json("verbose", "{}"), message_json("answer", "done!")])
        if path == "/v3/chat/cancel":
            self.cancels.append(body_of(request))
            return envelope_response(chat_json("canceled"))
        return httpx.Response(404)


async def test_create_and_poll_waits_between_polls() -> None:
    coze = PollingCoze(polls_needed=4)
    interval = 0.05
    async with make_client(coze) as client:
        chat, messages = await client.create_and_poll(
            bot_id="b", user_id="u", messages=QUESTION, poll_interval=interval, timeout=30
        )
    assert chat.status is ChatStatus.COMPLETED
    assert [m.content for m in messages if m.type is MessageType.ANSWER] == ["done!"]
    assert len(coze.retrieve_times) == 4 and coze.listed == 1
    gaps = [b - a for a, b in zip(coze.retrieve_times, coze.retrieve_times[1:], strict=False)]
    assert all(gap >= interval * 0.8 for gap in gaps), gaps


async def test_create_and_poll_deadline_cancels_the_chat() -> None:
    coze = PollingCoze(polls_needed=None)
    interval, timeout = 0.05, 0.4
    async with make_client(coze) as client:
        with pytest.raises(UpstreamTimeout) as info:
            await client.create_and_poll(
                bot_id="b", user_id="u", messages=QUESTION, poll_interval=interval, timeout=timeout
            )
    assert coze.cancels == [{"conversation_id": "conv-1", "chat_id": "chat-1"}]
    assert 1 <= len(coze.retrieve_times) <= timeout / interval + 1
    assert info.value.logid == LOGID
    assert "canceled" in info.value.message


async def test_create_and_poll_deadline_even_when_cancel_fails() -> None:
    coze = PollingCoze(polls_needed=None)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v3/chat/cancel":
            coze.cancels.append(body_of(request))
            return envelope_response(code=4104, msg="cannot cancel now")
        return coze(request)

    async with make_client(handler) as client:
        with pytest.raises(UpstreamTimeout):
            await client.create_and_poll(
                bot_id="b", user_id="u", messages=QUESTION, poll_interval=0.05, timeout=0.2
            )
    assert len(coze.cancels) == 1


async def test_create_and_poll_failed_chat() -> None:
    coze = PollingCoze(polls_needed=1, final_status="failed")
    async with make_client(coze) as client:
        with pytest.raises(ChatFailedError) as info:
            await client.create_and_poll(bot_id="b", user_id="u", messages=QUESTION, poll_interval=0.01)
    assert info.value.upstream_code == 5000 and info.value.message == "boom"
    assert info.value.logid == LOGID


def test_create_and_poll_defaults_respect_coze_rate_limit() -> None:
    params = inspect.signature(CozeClient.create_and_poll).parameters
    assert params["poll_interval"].default >= 1.0
    assert params["timeout"].default > 0


# --- client lifecycle -----------------------------------------------------------------------------


async def test_injected_http_client_is_not_closed_and_carries_our_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope_response(chat_json())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        async with CozeClient(base_url=BASE_URL + "/", token=SecretStr(TOKEN), http=http) as client:
            await client.retrieve_chat(conversation_id="c", chat_id="x")
        assert not http.is_closed
        assert str(seen[0].url).startswith(BASE_URL + "/v3/chat/retrieve?")
        assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_owned_http_client_is_closed() -> None:
    client = make_client(lambda r: envelope_response(chat_json()))
    await client.aclose()
    with pytest.raises(RuntimeError):
        await client.retrieve_chat(conversation_id="c", chat_id="x")


def test_http_and_transport_together_are_refused() -> None:
    with pytest.raises(ValueError, match="either"):
        CozeClient(
            token=SecretStr(TOKEN),
            http=httpx.AsyncClient(),
            transport=httpx.MockTransport(lambda r: httpx.Response(200)),
        )


async def test_timeouts_are_sent_with_each_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope_response(chat_json())

    async with make_client(handler, connect_timeout=3.0, read_timeout=42.0) as client:
        await client.retrieve_chat(conversation_id="c", chat_id="x")
    timeouts = seen[0].extensions["timeout"]
    assert timeouts["connect"] == 3.0 and timeouts["read"] == 42.0
