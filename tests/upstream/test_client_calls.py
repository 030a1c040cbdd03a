"""CozeClient's one call without a stream, cancel, over httpx.MockTransport: the envelope and the
errors every call shares."""

from __future__ import annotations

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

from botport.errors import CozeAPIError, UpstreamHTTPError, UpstreamProtocolError
from botport.upstream.client import CozeClient
from botport.upstream.models import ChatStatus


async def test_cancel() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope_response(chat_json("canceled"))

    async with make_client(handler) as client:
        canceled = await client.cancel_chat(conversation_id="conv-1", chat_id="chat-1")
    assert canceled.status is ChatStatus.CANCELED
    (cancel,) = seen
    assert cancel.method == "POST" and cancel.url.path == "/v3/chat/cancel"
    assert body_of(cancel) == {"conversation_id": "conv-1", "chat_id": "chat-1"}
    assert cancel.headers["authorization"] == f"Bearer {TOKEN}"


async def test_envelope_error_on_a_call() -> None:
    response = envelope_response(code=4104, msg="the chat cannot be cancelled now")
    async with make_client(lambda r: response) as client:
        with pytest.raises(CozeAPIError) as info:
            await client.cancel_chat(conversation_id="c", chat_id="x")
    assert info.value.logid == LOGID and info.value.upstream_code == 4104


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
            await client.cancel_chat(conversation_id="c", chat_id="x")
    assert getattr(info.value, "logid", None) == LOGID


# --- client lifecycle -----------------------------------------------------------------------------


async def test_injected_http_client_is_not_closed_and_carries_our_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope_response(chat_json())

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        async with CozeClient(base_url=BASE_URL + "/", token=SecretStr(TOKEN), http=http) as client:
            await client.cancel_chat(conversation_id="c", chat_id="x")
        assert not http.is_closed
        assert str(seen[0].url) == BASE_URL + "/v3/chat/cancel"
        assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_owned_http_client_is_closed() -> None:
    client = make_client(lambda r: envelope_response(chat_json()))
    await client.aclose()
    with pytest.raises(RuntimeError):
        await client.cancel_chat(conversation_id="c", chat_id="x")


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
        await client.cancel_chat(conversation_id="c", chat_id="x")
    timeouts = seen[0].extensions["timeout"]
    assert timeouts["connect"] == 3.0 and timeouts["read"] == 42.0
