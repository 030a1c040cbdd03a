"""A turn end to end: the SSE sequence, stream false, stored history, context, restarts, tools.

The core tests run on SQLite and PostgreSQL (``database_url``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from gateway_helpers import emulator, events_of, gateway, only, parse_frames, recording, token_settings
from starlette.applications import Starlette

GOOD_SEQUENCE = re.compile(
    r"turn\.started (reasoning\.delta )*(text\.delta )+message\.completed follow_ups turn\.completed$"
)


def _sequence(events: list[str]) -> str:
    return " ".join(events)


async def test_stream_sequence_and_stored_history(tmp_path: Path, database_url: str) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path, database_url=database_url), transport) as gw:
        cid = await gw.conversation()
        question = "What is **botport**? <script>alert(1)</script>"
        frames = await gw.send(cid, question)
        assert GOOD_SEQUENCE.match(_sequence(events_of(frames))), events_of(frames)

        started = frames[0].data
        assert started["conversation_id"] == cid and started["bot"] == "demo"
        reasoning = "".join(f.data["text"] for f in frames if f.event == "reasoning.delta")
        text = "".join(f.data["text"] for f in frames if f.event == "text.delta")
        assert "question number 1" in reasoning
        assert "<script>alert(1)</script>" in text  # the demo bot quotes verbatim

        completed = only(frames, "message.completed").data
        assert completed["id"] == started["message_id"]
        assert completed["content"] == text
        assert completed["status"] == "completed"  # the message's own status, not "streaming"
        assert "<strong>Turn 1.</strong>" in completed["html"]
        assert "<script" not in completed["html"]  # sanitized
        suggestions = only(frames, "follow_ups").data["suggestions"]
        assert suggestions and all(isinstance(s, str) for s in suggestions)
        done = only(frames, "turn.completed").data
        assert done["message_id"] == started["message_id"]
        assert done["status"] == "completed"
        usage = done["usage"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0

        items = await gw.messages(cid)
        assert [(m["role"], m["status"]) for m in items] == [
            ("user", "completed"),
            ("assistant", "completed"),
        ]
        user, answer = items
        assert user["id"] == started["user_message_id"] and user["content"] == question
        assert user["html"] == ""
        assert answer["id"] == started["message_id"]
        assert answer["content"] == text
        assert answer["html"] == completed["html"]
        assert answer["reasoning"] == reasoning
        assert answer["follow_ups"] == suggestions
        assert answer["usage"] == usage
        assert answer["error"] is None

        conversation = (await gw.client.get(f"/api/conversations/{cid}")).json()
        assert conversation["title"] == question
        await gw.send(cid, "a second question")
        assert (await gw.client.get(f"/api/conversations/{cid}")).json()["title"] == question
    assert len(transport.paths("/v3/chat")) == 2


async def test_frames_are_ascii_json(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        question = "你好\u2028世界\u2029 and an emoji \U0001f600"
        response = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": question, "stream": True}
        )
        raw = response.content
        assert raw.isascii()
        assert b"\\u2028" in raw and b"\\u4f60" in raw
        # Every frame is exactly an id, an event and one data line, even with U+2028 in the text.
        for block in raw.decode("ascii").strip().split("\n\n"):
            lines = block.split("\n")
            assert len(lines) == 3, lines
            assert lines[0].startswith("id: ") and lines[1].startswith("event: ")
            assert lines[2].startswith("data: ")
            json.loads(lines[2][6:])
        frames = parse_frames(raw)
        text = "".join(f.data["text"] for f in frames if f.event == "text.delta")
        assert question in text
        assert (await gw.messages(cid))[0]["content"] == question


async def test_stream_false_is_one_upstream_request(tmp_path: Path, database_url: str) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path, database_url=database_url), transport) as gw:
        cid = await gw.conversation()
        response = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": "plain please", "stream": False}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        message = response.json()
        assert message["role"] == "assistant" and message["status"] == "completed"
        assert "plain please" in message["content"]
        assert message["html"].startswith("<p>")
        assert message["follow_ups"] and message["usage"]["total_tokens"] > 0
        assert (await gw.messages(cid))[-1] == message
    paths = [r.path for r in transport.requests]
    assert paths == ["/v3/chat"]  # no retrieve, no message list: served from the stream
    assert transport.requests[0].body["stream"] is True


async def test_context_is_kept_through_coze_conversation_id(tmp_path: Path, database_url: str) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path, database_url=database_url), transport) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "first question about otters")
        frames = await gw.send(cid, "second question")
        answer = only(frames, "message.completed").data["content"]
        assert "Turn 2." in answer
        assert "Before that you asked: *first question about otters*" in answer
        first, second = transport.paths("/v3/chat")
        assert "conversation_id" not in first.params
        coze_conversation = second.params["conversation_id"]
        assert coze_conversation
        # Only the new turn is sent: context lives in Coze.
        assert [m["content"] for m in second.body["additional_messages"]] == ["second question"]

        # Another conversation of the same identity starts fresh.
        other = await gw.conversation()
        fresh = only(await gw.send(other, "unrelated"), "message.completed").data["content"]
        assert "This is the first question" in fresh
        assert "conversation_id" not in transport.paths("/v3/chat")[-1].params


async def test_history_and_context_survive_a_restart(tmp_path: Path, database_url: str) -> None:
    coze = emulator()  # Coze outlives botport's restart
    settings = token_settings(tmp_path, database_url=database_url)
    first_transport = recording(coze)
    async with gateway(settings, first_transport) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "remember the lighthouse")
        cookies = httpx.Cookies(gw.client.cookies)
        before = await gw.messages(cid)
    coze_conversation = _coze_conversation_of(coze)

    second_transport = recording(coze)
    async with gateway(settings, second_transport) as gw:
        gw.client.cookies = cookies
        assert await gw.messages(cid) == before
        listed = (await gw.client.get("/api/conversations")).json()["items"]
        assert [c["id"] for c in listed] == [cid]
        frames = await gw.send(cid, "what did I say?")
        answer = only(frames, "message.completed").data["content"]
        assert "Before that you asked: *remember the lighthouse*" in answer
        assert second_transport.paths("/v3/chat")[0].params["conversation_id"] == coze_conversation
        assert len(await gw.messages(cid)) == 4


async def test_a_conversation_coze_lost_is_restarted_with_the_stored_turns(tmp_path: Path) -> None:
    """Coze forgot the conversation (expired, deleted; in demo mode: the emulator restarted): the
    turn starts a new Coze conversation carrying the stored turns, so the bot still remembers."""
    settings = token_settings(tmp_path)
    async with gateway(settings, recording(emulator())) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "remember the lighthouse")
        cookies = httpx.Cookies(gw.client.cookies)

    new_coze = emulator()  # a Coze that has never seen this conversation
    fresh = recording(new_coze)
    async with gateway(settings, fresh) as gw:
        gw.client.cookies = cookies
        frames = await gw.send(cid, "what did I say?")
        answer = only(frames, "message.completed").data["content"]
        assert "Before that you asked: *remember the lighthouse*" in answer
        lost, retried = fresh.paths("/v3/chat")
        assert "conversation_id" in lost.params
        assert "conversation_id" not in retried.params
        replayed = [(m["role"], m["content"]) for m in retried.body["additional_messages"]]
        assert replayed[0] == ("user", "remember the lighthouse")
        assert replayed[1][0] == "assistant" and replayed[-1] == ("user", "what did I say?")
        # The next turn goes on in the new Coze conversation.
        await gw.send(cid, "and now?")
        third = fresh.paths("/v3/chat")[2]
        assert third.params["conversation_id"] == _coze_conversation_of(new_coze)
        assert [m["status"] for m in await gw.messages(cid)] == ["completed"] * 6


def _coze_conversation_of(coze: Starlette) -> str:
    conversations = coze.state.emulator.store.conversations
    assert len(conversations) == 1
    return str(next(iter(conversations.values())).id)


async def test_requires_action_is_reported_and_stored(tmp_path: Path, database_url: str) -> None:
    async with gateway(token_settings(tmp_path, database_url=database_url), recording()) as gw:
        cid = await gw.conversation("weather")
        frames = await gw.send(cid, "What is the weather in Lisbon?")
        assert events_of(frames) == ["turn.started", "tool_calls.required", "turn.completed"]
        required = only(frames, "tool_calls.required").data
        assert required["chat_id"]
        (call,) = required["tool_calls"]
        assert call["name"] == "get_weather" and call["id"]
        assert json.loads(call["arguments"]) == {"city": "Lisbon"}
        assert only(frames, "turn.completed").data["status"] == "requires_action"

        stored = (await gw.messages(cid))[-1]
        assert stored["status"] == "requires_action"
        assert stored["tool_calls"] == [call]
        assert stored["error"] is None

        response = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": "And in Oslo?", "stream": False}
        )
        assert response.status_code == 200
        assert response.json()["status"] == "requires_action"
        assert json.loads(response.json()["tool_calls"][0]["arguments"]) == {"city": "Oslo"}


async def test_streamed_text_adds_up_to_the_answer(tmp_path: Path) -> None:
    """Deltas may be joined when they queue up; the text itself is never lost or reordered."""
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        frames = await gw.send(cid, "/long many words")
        streamed = "".join(f.data["text"] for f in frames if f.event == "text.delta")
        assert streamed == only(frames, "message.completed").data["content"]
        assert len(streamed.split()) > 100
