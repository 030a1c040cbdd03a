"""Chat completions with the official ``openai`` client (sync and async, streaming and not) on a real
server: the wire format, reasoning, usage, parameters accepted or refused, failures."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai_helpers import TIMEOUT, Server

pytestmark = pytest.mark.live

HELLO = [{"role": "user", "content": "Hello there"}]


def test_non_stream_completion(fast_server: Server) -> None:
    raw = fast_server.client().chat.completions.with_raw_response.create(model="demo", messages=HELLO)
    completion = raw.parse()
    assert raw.headers["x-botport-conversation-id"]
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "demo"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert "**Turn 1.** You said:\n\n> Hello there" in (choice.message.content or "")
    # Reasoning comes as DeepSeek-style reasoning_content (an extra field the client keeps).
    assert "question number 1" in (choice.message.model_extra or {})["reasoning_content"]
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_stream_chunks(fast_server: Server) -> None:
    stream = fast_server.client().chat.completions.create(model="demo", messages=HELLO, stream=True)
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content", "") for c in chunks)
    assert "question number 1" in reasoning
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "**Turn 1.** You said:\n\n> Hello there" in text
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert all(c.usage is None for c in chunks)  # not asked for


def test_stream_ends_with_done_and_usage_when_asked(fast_server: Server) -> None:
    with httpx.Client(timeout=TIMEOUT) as http:
        response = http.post(
            f"{fast_server.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {fast_server.key}"},
            json={
                "model": "demo",
                "messages": HELLO,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-botport-conversation-id"]
    frames = [f for f in response.text.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    assert '"choices":[]' in frames[-2] and '"usage":{"prompt_tokens"' in frames[-2]
    assert '"finish_reason":"stop"' in frames[-3]


async def test_async_stream_with_usage(fast_server: Server) -> None:
    client = fast_server.async_client()
    stream = await client.chat.completions.create(
        model="demo", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    await client.close()
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None and usage_chunk.usage.completion_tokens > 0
    assert chunks[-2].choices[0].finish_reason == "stop"


async def test_async_non_stream(fast_server: Server) -> None:
    async with fast_server.async_client() as client:
        completion = await client.chat.completions.create(model="demo", messages=HELLO)
    assert "**Turn 1.**" in (completion.choices[0].message.content or "")


def test_unknown_parameters_are_accepted_and_ignored(fast_server: Server) -> None:
    completion = fast_server.client().chat.completions.create(
        model="demo",
        messages=HELLO,
        temperature=0.2,
        max_tokens=5,
        top_p=0.9,
        user="someone",
        n=1,
        tools=[{"type": "function", "function": {"name": "ignored", "parameters": {"type": "object"}}}],
        extra_body={"frequency_penalty": 0, "something_new": {"a": 1}},
    )
    assert "**Turn 1.**" in (completion.choices[0].message.content or "")


def test_n_above_one_is_400(fast_server: Server) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        fast_server.client().chat.completions.create(model="demo", messages=HELLO, n=2)
    assert info.value.param == "n"


def test_last_message_must_be_user_or_tool(fast_server: Server) -> None:
    client = fast_server.client()
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="demo", messages=[*HELLO, {"role": "assistant", "content": "Sure, I"}]
        )
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="demo", messages=[{"role": "system", "content": "be brief"}])
    assert info.value.code == "empty_message"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="demo", messages=[{"role": "user", "content": "   "}])
    assert info.value.code == "empty_message"
    assert fast_server.recorder is not None and fast_server.recorder.chats() == []


def test_content_arrays_take_the_text_parts_and_refuse_audio(fast_server: Server) -> None:
    client = fast_server.client()
    completion = client.chat.completions.create(
        model="demo",
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "first line"}, {"type": "text", "text": "second"}],
            }
        ],
    )
    assert "> first line\n> second" in (completion.choices[0].message.content or "")
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="demo",
            messages=[{"role": "user", "content": [{"type": "text", "text": "what is it?"}, audio]}],
        )
    assert info.value.code == "unsupported_content"
    assert "input_audio" in info.value.message  # images and files: test_openai_images.py


def test_failing_bot_non_stream_is_502(fast_server: Server) -> None:
    raw = httpx.post(
        f"{fast_server.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {fast_server.key}"},
        json={"model": "failing", "messages": HELLO},
        timeout=TIMEOUT,
    )
    assert raw.status_code == 502
    assert raw.headers["x-botport-conversation-id"]
    assert raw.json()["error"]["type"] == "api_error"
    with pytest.raises(openai.InternalServerError) as info:
        fast_server.client().chat.completions.create(model="failing", messages=HELLO)
    assert info.value.status_code == 502
    assert info.value.code == "chat_failed"
    assert "scripted failure" in info.value.message


def test_failing_bot_stream_raises_mid_stream(fast_server: Server) -> None:
    stream = fast_server.client().chat.completions.create(model="failing", messages=HELLO, stream=True)
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "scripted failure" in info.value.message
    assert "Let me think" in "".join(received)  # the partial answer arrived before the error
    assert isinstance(info.value.body, dict) and info.value.body["code"] == "chat_failed"


async def test_failing_bot_async_stream(fast_server: Server) -> None:
    async with fast_server.async_client() as client:
        stream = await client.chat.completions.create(model="failing", messages=HELLO, stream=True)
        with pytest.raises(openai.APIError, match="scripted failure"):
            async for _ in stream:
                pass
