"""CozeClient's conversation delete and message feedback: over httpx.MockTransport (the exact
requests), then against the emulator (the paths and bodies Coze's SDK sends, served independently)."""

from __future__ import annotations

import httpx
import pytest
from coze_fakes import BASE_URL, LOGID, TOKEN, body_of, envelope_response, make_client
from pydantic import SecretStr

from botport.asgi_transport import StreamingASGITransport
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.errors import ConversationBusyError, ConversationNotFoundError, UpstreamHTTPError
from botport.upstream.client import CozeClient
from botport.upstream.models import EnterMessage


async def test_the_requests() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return envelope_response({})

    async with make_client(handler) as client:
        await client.delete_conversation("7301")
        await client.set_message_feedback(
            conversation_id="7301", message_id="7302", feedback_type="like", comment=None
        )
        await client.set_message_feedback(
            conversation_id="7301", message_id="7302", feedback_type="unlike", comment="太长了"
        )
        await client.delete_message_feedback(conversation_id="7301", message_id="7302")
        await client.delete_conversation("a/b?c")  # an id is one path segment, whatever it holds
    calls = [(r.method, r.url.raw_path.decode(), r.content and body_of(r)) for r in seen]
    assert calls == [
        ("DELETE", "/v1/conversations/7301", b""),
        ("POST", "/v1/conversations/7301/messages/7302/feedback", {"feedback_type": "like"}),
        (
            "POST",
            "/v1/conversations/7301/messages/7302/feedback",
            {"feedback_type": "unlike", "comment": "太长了"},
        ),
        ("DELETE", "/v1/conversations/7301/messages/7302/feedback", b""),
        ("DELETE", "/v1/conversations/a%2Fb%3Fc", b""),
    ]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seen)
    assert str(seen[0].url).startswith(BASE_URL)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (envelope_response(code=4200, msg="conversation not found"), ConversationNotFoundError),
        (envelope_response(code=4016, msg="a chat is in progress"), ConversationBusyError),
        (httpx.Response(503, text="busy", headers={"x-tt-logid": LOGID}), UpstreamHTTPError),
    ],
)
async def test_errors_carry_the_logid(response: httpx.Response, expected: type[Exception]) -> None:
    async with make_client(lambda request: response) as client:
        with pytest.raises(expected) as info:
            await client.delete_conversation("7301")
    assert getattr(info.value, "logid", None) == LOGID


async def test_against_the_emulator() -> None:
    coze = create_emulator_app(tokens=[TOKEN])
    transport = StreamingASGITransport(coze)
    async with CozeClient(base_url=BASE_URL, token=SecretStr(TOKEN), transport=transport) as client:
        question = [EnterMessage.user_text("hello")]
        async with client.stream_chat(bot_id=DEMO_BOT_ID, user_id="u1", messages=question) as stream:
            events = [event async for event in stream]
        answer = next(
            e.message
            for e in events
            if e.message and e.message.type == "answer" and e.type == "conversation.message.completed"
        )
        assert answer is not None
        ids = {"conversation_id": answer.conversation_id, "message_id": answer.id}
        store = coze.state.emulator.store  # type: ignore[attr-defined]

        await client.set_message_feedback(**ids, feedback_type="like", comment="good")
        assert (store.feedback[answer.id].feedback_type, store.feedback[answer.id].comment) == (
            "like",
            "good",
        )
        await client.delete_message_feedback(**ids)
        assert answer.id not in store.feedback
        with pytest.raises(ConversationNotFoundError):  # none to delete: Coze's "not found"
            await client.delete_message_feedback(**ids)

        await client.delete_conversation(answer.conversation_id)
        assert answer.conversation_id not in store.conversations
        with pytest.raises(ConversationNotFoundError):
            await client.delete_conversation(answer.conversation_id)
