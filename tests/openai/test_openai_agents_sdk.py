"""The OpenAI Agents SDK (``openai-agents``), a client no one here wrote, against botport's /v1: its
Responses model and its Chat Completions model, each over two turns that continue one Coze
conversation (the SDK sends the whole history each time), with an image, and with a function tool the
weather bot calls (the SDK runs it and sends its output back), streamed and not. The SDK runs from its
own virtual environment (tests/agents_sdk_helpers.py)."""

from __future__ import annotations

import json

import pytest
from openai_helpers import Server

from agents_sdk_helpers import needs_agents_sdk, run_agent
from image_files import data_url, png

pytestmark = [pytest.mark.live, needs_agents_sdk]

APIS = ["responses", "chat"]


@pytest.mark.parametrize("api", APIS)
def test_two_turns_with_an_image_continue_one_coze_conversation(fast_server: Server, api: str) -> None:
    picture = data_url(png(7, 5))
    ran = run_agent(
        fast_server.url,
        fast_server.key,
        api=api,
        bot="demo",
        questions=["what is in this picture?", "and what did I ask first?"],
        image_url=picture,
    )
    assert "error" not in ran, ran
    first, second = ran["answers"]
    assert "what is in this picture?" in first
    assert "You attached 1 file: image.png (image/png" in first and "7×5" in first
    assert "Turn 2." in second and "Before that you asked: *what is in this picture?*" in second
    # What Coze was sent: the picture as an uploaded image, then one conversation for both turns.
    assert fast_server.recorder is not None
    chats = fast_server.recorder.chats()
    assert len(chats) == 2
    parts = json.loads(chats[0].body["additional_messages"][-1]["content"])
    assert [part["type"] for part in parts] == ["text", "image"] and parts[1]["file_id"]
    # The second turn continues the Coze conversation the first made: only the new question is sent.
    assert "conversation_id" not in chats[0].params and chats[1].params["conversation_id"]
    assert [m["content"] for m in chats[1].body["additional_messages"]] == ["and what did I ask first?"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("api", APIS)
def test_the_sdk_runs_the_tool_the_bot_asks_for(fast_server: Server, api: str, stream: bool) -> None:
    ran = run_agent(
        fast_server.url,
        fast_server.key,
        api=api,
        bot="weather",
        questions=["What's the weather in Paris?"],
        weather_tool=True,
        stream=stream,
    )
    assert "error" not in ran, ran
    assert ran["tool_calls"] == ["Paris"]
    assert "Sunny, 21 C in Paris" in ran["answers"][0]
    if stream:
        (kinds,) = ran["events"]
        assert kinds["raw_response_event"] > 3  # the answer came in pieces
        assert kinds["run_item_stream_event"] >= 3  # the call, its output, the message
    # Coze's chat paused for the tool and went on with its output: one chat, one tool output sent.
    assert fast_server.recorder is not None
    assert len(fast_server.recorder.chats()) == 1
    submitted = [c for c in fast_server.recorder.calls if c.path == "/v3/chat/submit_tool_outputs"]
    assert len(submitted) == 1
    assert "Sunny, 21 C in Paris" in submitted[0].body["tool_outputs"][0]["output"]
