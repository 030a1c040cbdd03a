"""Retries of the official ``openai`` client never multiply Coze chats: a failed turn says
``x-should-retry: false``, a busy conversation says ``Retry-After``, and an ``Idempotency-Key`` repeat
re-attaches to the turn the first request started."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import openai
import pytest
from openai_helpers import TIMEOUT, Server

pytestmark = pytest.mark.live

HELLO = [{"role": "user", "content": "hello"}]


def _with_default_retries(server: Server) -> openai.OpenAI:
    """The client as users build it: its default retry policy (2 retries, honouring the headers)."""
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.key, timeout=TIMEOUT)


def test_default_retries_against_a_failing_bot_make_one_coze_chat(fast_server: Server) -> None:
    assert fast_server.recorder is not None
    with _with_default_retries(fast_server) as client, pytest.raises(openai.InternalServerError) as info:
        assert client.max_retries == 2
        client.chat.completions.create(model="failing", messages=HELLO)
    assert info.value.response.headers["x-should-retry"] == "false"
    assert len(fast_server.recorder.chats()) == 1, "a retry would have started another Coze chat"
    with fast_server.api() as api:  # and one conversation, holding the one failed turn
        conversations = api.get("/api/conversations").json()["items"]
        assert len(conversations) == 1
        messages = api.get(f"/api/conversations/{conversations[0]['id']}/messages").json()["items"]
    assert [m["status"] for m in messages] == ["completed", "failed"]


def test_an_idempotency_key_repeat_returns_the_first_answer(fast_server: Server) -> None:
    assert fast_server.recorder is not None
    with fast_server.client() as client:
        _repeat_with_a_key(fast_server, client)


def _repeat_with_a_key(fast_server: Server, client: openai.OpenAI) -> None:
    assert fast_server.recorder is not None
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = client.chat.completions.create(model="demo", messages=HELLO, extra_headers=key)
    again = client.chat.completions.create(model="demo", messages=HELLO, extra_headers=key)
    assert again.id == first.id
    assert again.choices[0].message.content == first.choices[0].message.content
    streamed = client.chat.completions.create(model="demo", messages=HELLO, extra_headers=key, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
    assert text == first.choices[0].message.content
    assert len(fast_server.recorder.chats()) == 1
    # The same key with another request is refused, not silently answered with the first one.
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(
            model="demo", messages=[{"role": "user", "content": "another"}], extra_headers=key
        )
    assert info.value.code == "idempotency_key_reused"
    # A new key is a new question.
    client.chat.completions.create(model="demo", messages=HELLO, extra_headers={"Idempotency-Key": "other"})
    assert len(fast_server.recorder.chats()) == 2


def test_a_repeat_while_the_first_still_runs_re_attaches(fast_server: Server) -> None:
    """A client that timed out and retried with its key gets the running turn, not a 409 or a second
    chat."""
    assert fast_server.recorder is not None
    client = fast_server.client()
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    question = [{"role": "user", "content": "/slow tell me slowly"}]
    results: list[str] = []

    def ask() -> None:
        reply = client.chat.completions.create(model="slow", messages=question, extra_headers=key)
        results.append(reply.choices[0].message.content or "")

    first = threading.Thread(target=ask)
    first.start()
    deadline = time.monotonic() + 10
    while not fast_server.recorder.chats() and time.monotonic() < deadline:
        time.sleep(0.02)
    second = threading.Thread(target=ask)
    second.start()
    first.join(60)
    second.join(60)
    client.close()
    assert len(results) == 2 and results[0] == results[1] and results[0]
    assert len(fast_server.recorder.chats()) == 1


def test_a_busy_conversation_is_409_with_retry_after(fast_server: Server) -> None:
    headers = {"Authorization": f"Bearer {fast_server.key}"}
    with httpx.Client(base_url=fast_server.url, headers=headers, timeout=TIMEOUT) as http:
        body = {
            "model": "slow",
            "messages": [{"role": "user", "content": "/slow a long one"}],
            "stream": True,
        }
        with http.stream("POST", "/v1/chat/completions", json=body) as running:
            conversation = running.headers["x-botport-conversation-id"]
            busy = http.post(
                "/v1/chat/completions",
                json={"model": "slow", "messages": HELLO},
                headers={"X-Botport-Conversation-Id": conversation},
            )
            assert busy.status_code == 409
            assert int(busy.headers["retry-after"]) >= 1
            assert busy.json()["error"]["code"] == "turn_in_progress"
