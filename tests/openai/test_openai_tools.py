"""``requires_action`` as OpenAI ``tool_calls``, and ``role: tool`` messages submitted to the paused chat
(the ``weather`` bot asks for ``get_weather`` and answers with the submitted output)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai_helpers import Server

pytestmark = pytest.mark.live

QUESTION = {"role": "user", "content": "What is the weather in Paris?"}


def _assistant_with(calls: list[dict[str, Any]]) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": calls}


def test_tool_round_trip_non_stream(fast_server: Server) -> None:
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    first = client.chat.completions.create(model="weather", messages=[QUESTION])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert len(calls) == 1
    call = calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    history: list[dict[str, Any]] = [
        QUESTION,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 °C"},
    ]
    second = client.chat.completions.create(model="weather", messages=history)  # type: ignore[arg-type]
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "The weather in **Paris**: sunny, 21 °C"
    submitted = [c for c in recorder.calls if c.path == "/v3/chat/submit_tool_outputs"]
    assert len(submitted) == 1
    assert submitted[0].body["tool_outputs"] == [{"tool_call_id": call.id, "output": "sunny, 21 °C"}]
    assert len(recorder.chats()) == 1  # the outputs went to the paused chat, no new chat

    # The whole exchange resent with a new question continues the same conversation.
    history += [
        {"role": "assistant", "content": second.choices[0].message.content},
        {"role": "user", "content": "And in Rome?"},
    ]
    third = client.chat.completions.with_raw_response.create(model="weather", messages=history)  # type: ignore[arg-type]
    calls = third.parse().choices[0].message.tool_calls or []
    assert json.loads(calls[0].function.arguments) == {"city": "Rome"}
    assert len(recorder.chats()) == 2
    assert recorder.chats()[1].params["conversation_id"] == submitted[0].params["conversation_id"]
    assert len(recorder.chats()[1].body["additional_messages"]) == 1


def test_tool_round_trip_stream(fast_server: Server) -> None:
    client = fast_server.client()
    chunks = list(client.chat.completions.create(model="weather", messages=[QUESTION], stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(deltas) == 1
    delta = deltas[0]
    assert (delta.index, delta.type) == (0, "function")
    assert delta.id and delta.function is not None
    assert delta.function.name == "get_weather"
    assert json.loads(delta.function.arguments or "") == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    call = {
        "id": delta.id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": delta.function.arguments},
    }
    history = [
        QUESTION,
        _assistant_with([call]),
        {"role": "tool", "tool_call_id": delta.id, "content": "rain"},
    ]
    stream = client.chat.completions.create(
        model="weather",
        messages=history,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    rest = list(stream)
    assert (
        "".join(c.choices[0].delta.content or "" for c in rest if c.choices)
        == "The weather in **Paris**: rain"
    )
    assert rest[-2].choices[0].finish_reason == "stop"
    assert rest[-1].usage is not None


async def test_tool_round_trip_async_with_conversation_header(fast_server: Server) -> None:
    async with fast_server.async_client() as client:
        raw = await client.chat.completions.with_raw_response.create(model="weather", messages=[QUESTION])
        conversation_id = raw.headers["x-botport-conversation-id"]
        call = (raw.parse().choices[0].message.tool_calls or [])[0]
        # With the header the client may send just the tool results.
        answer = await client.chat.completions.create(
            model="weather",
            messages=[{"role": "tool", "tool_call_id": call.id, "content": "windy"}],
            extra_headers={"X-Botport-Conversation-Id": conversation_id},
        )
    assert answer.choices[0].message.content == "The weather in **Paris**: windy"


def test_tool_outputs_that_match_no_paused_chat_are_400(fast_server: Server) -> None:
    client = fast_server.client()
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="weather",
            messages=[
                QUESTION,
                _assistant_with(
                    [{"id": "call_x", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
                ),
                {"role": "tool", "tool_call_id": "call_x", "content": "?"},
            ],
        )
    assert info.value.code == "no_paused_chat"
    first = client.chat.completions.create(model="weather", messages=[QUESTION])
    call = (first.choices[0].message.tool_calls or [])[0]
    answered = [
        QUESTION,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "hail"},
    ]
    client.chat.completions.create(model="weather", messages=answered)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError) as again:  # already answered: nothing is paused any more
        client.chat.completions.create(model="weather", messages=answered)  # type: ignore[arg-type]
    assert again.value.code == "no_paused_chat"
