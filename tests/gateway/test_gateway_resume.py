"""Resuming a turn by sequence number: every frame has an ``id:``, ``GET /api/messages/{id}/events``
replays what came after any number (or ``Last-Event-ID``) and follows the turn to its end, and a
finished turn replays from the log while it is kept, then from the stored answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import (
    Frame,
    FrameReader,
    gateway,
    parse_frames,
    recording,
    text_deltas,
    token_settings,
)

from botport.app import create_app
from botport.chat.events import DomainEvent, ReasoningDelta, TextDelta

TIMEOUT = httpx.Timeout(30.0)


def _text(frames: list[Frame], kind: str = "text.delta") -> str:
    return "".join(f.data["text"] for f in frames if f.event == kind)


def _expected_after(events: list[DomainEvent], after: int) -> tuple[str, str, list[str]]:
    """What a watcher from ``after`` must get: the answer text, the reasoning, the other events."""
    rest = events[after:]
    text = "".join(e.text for e in rest if isinstance(e, TextDelta))
    reasoning = "".join(e.text for e in rest if isinstance(e, ReasoningDelta))
    names = {
        "TurnStarted": "turn.started",
        "MessageCompleted": "message.completed",
        "FollowUps": "follow_ups",
        "TurnCompleted": "turn.completed",
        "TurnFailed": "error",
        "ToolCallsRequired": "tool_calls.required",
    }
    others = [names[type(e).__name__] for e in rest if not isinstance(e, TextDelta | ReasoningDelta)]
    return text, reasoning, others


async def test_resume_after_every_number_gives_exactly_the_rest(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        frames = await gw.send(cid, "count with me")
        message_id = frames[0].data["message_id"]
        turn_log = gw.app.state.services.chat.logs.get(message_id)
        assert turn_log is not None and turn_log.ended
        events = turn_log.events
        ids = [f.id for f in frames]
        assert ids[0] == 1 and ids[-1] == len(events)
        assert all(a is not None and b is not None and a < b for a, b in pairwise(ids))
        for after in range(len(events) + 1):
            response = await gw.client.get(f"/api/messages/{message_id}/events", params={"after": after})
            assert response.status_code == 200
            got = parse_frames(response.content)
            text, reasoning, others = _expected_after(events, after)
            assert _text(got) == text, after
            assert _text(got, "reasoning.delta") == reasoning, after
            assert [f.event for f in got if not f.event.endswith(".delta")] == others, after
            assert all(f.id is not None and f.id > after for f in got)
            if got:
                assert got[-1].id == len(events)
        # The live stream and a replay from the start tell the same answer.
        stored = (await gw.messages(cid))[-1]
        assert _text(frames) == stored["content"]


async def test_last_event_id_is_the_same_as_after(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        frames = await gw.send(cid, "hello")
        message_id = frames[0].data["message_id"]
        middle = frames[len(frames) // 2].id
        by_query = await gw.client.get(f"/api/messages/{message_id}/events", params={"after": middle})
        by_header = await gw.client.get(
            f"/api/messages/{message_id}/events", headers={"Last-Event-ID": str(middle)}
        )
        assert by_query.content == by_header.content and by_query.content
        bad = await gw.client.get(f"/api/messages/{message_id}/events", headers={"Last-Event-ID": "x"})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "invalid_event_id"


async def test_after_the_log_is_gone_the_stored_answer_is_replayed(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path, turn_log_retention=0), recording()) as gw:
        cid = await gw.conversation()
        frames = await gw.send(cid, "hello")
        message_id = frames[0].data["message_id"]
        last = frames[-1].id
        await asyncio.sleep(0.05)  # the log's retention (none) passes
        assert gw.app.state.services.chat.logs.get(message_id) is None
        stored = (await gw.messages(cid))[-1]

        replay = parse_frames((await gw.client.get(f"/api/messages/{message_id}/events")).content)
        assert [f.event for f in replay] == [
            "turn.started",
            "message.completed",
            "follow_ups",
            "turn.completed",
        ]
        assert replay[1].data["content"] == stored["content"] and replay[1].data["html"]
        assert replay[1].data["status"] == stored["status"] == "completed"
        assert replay[2].data["suggestions"] == stored["follow_ups"]
        assert [f.id for f in replay] == [1, last, last, last]

        middle = parse_frames(
            (await gw.client.get(f"/api/messages/{message_id}/events", params={"after": 3})).content
        )
        assert [f.event for f in middle] == ["message.completed", "follow_ups", "turn.completed"]
        done = await gw.client.get(f"/api/messages/{message_id}/events", params={"after": last})
        assert done.status_code == 200 and parse_frames(done.content) == []


async def test_a_stored_failed_answer_is_replayed_with_its_status(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path, turn_log_retention=0), recording()) as gw:
        cid = await gw.conversation("failing")
        frames = await gw.send(cid, "hello")
        message_id = frames[0].data["message_id"]
        await asyncio.sleep(0.05)  # the log's retention (none) passes
        stored = (await gw.messages(cid))[-1]
        assert stored["status"] == "failed" and stored["content"]

        replay = parse_frames((await gw.client.get(f"/api/messages/{message_id}/events")).content)
        assert [f.event for f in replay] == ["turn.started", "message.completed", "error"]
        assert replay[1].data["content"] == stored["content"]
        assert replay[1].data["status"] == "failed"  # as stored, not "streaming"
        assert replay[2].data["turn_status"] == "failed"


async def test_someone_elses_answer_is_404(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        frames = await gw.send(cid, "hello")
        message_id = frames[0].data["message_id"]
        user_message_id = frames[0].data["user_message_id"]
        async with gw.other_client() as stranger:
            response = await stranger.get(f"/api/messages/{message_id}/events")
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "message_not_found"
        assert (await gw.client.get(f"/api/messages/{user_message_id}/events")).status_code == 404
        assert (await gw.client.get("/api/messages/nope/events")).status_code == 404


@pytest.mark.live
async def test_a_reconnect_at_any_frame_misses_nothing_and_repeats_nothing(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    """Read a live turn in pieces, reconnecting after every few frames at the last id seen."""
    server = live_server(create_app(token_settings(tmp_path), upstream_transport=recording()))
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as client:
        cid = (await client.post("/api/conversations", json={"bot": "slow"})).json()["id"]
        body = {"content": "tell me in pieces"}
        async with client.stream("POST", f"/api/conversations/{cid}/messages", json=body) as response:
            reader = FrameReader(response)
            await reader.until(text_deltas(2))
        pieces = list(reader.frames)
        message_id = pieces[0].data["message_id"]
        running = (await client.get(f"/api/conversations/{cid}")).json()["running_turn"]
        assert running == {"message_id": message_id, "user_message_id": pieces[0].data["user_message_id"]}
        reconnects = 0
        while pieces[-1].event not in ("turn.completed", "error"):
            url = f"/api/messages/{message_id}/events"
            async with client.stream("GET", url, params={"after": pieces[-1].id}) as response:
                reader = FrameReader(response)
                for _ in range(3):  # a few frames, then the connection drops
                    frame = await reader.next()
                    if frame is None:
                        break
                    pieces.append(frame)
                    if frame.event in ("turn.completed", "error"):
                        break
            reconnects += 1
        assert reconnects >= 3
        ids = [f.id for f in pieces]
        assert all(a is not None and b is not None and a < b for a, b in pairwise(ids))
        assert pieces[-1].event == "turn.completed"
        stored = (await client.get(f"/api/conversations/{cid}/messages")).json()["items"][-1]
        assert stored["status"] == "completed"
        assert _text(pieces) == stored["content"]
        assert (await client.get(f"/api/conversations/{cid}")).json()["running_turn"] is None


@pytest.mark.live
async def test_the_partial_answer_is_checkpointed_while_it_streams(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    settings = token_settings(tmp_path, checkpoint_interval=0.1, turn_lease=1.0)
    server = live_server(create_app(settings, upstream_transport=recording()))
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as client:
        cid = (await client.post("/api/conversations", json={"bot": "slow"})).json()["id"]
        body = {"content": "/slow checkpoint me"}
        async with client.stream("POST", f"/api/conversations/{cid}/messages", json=body) as response:
            reader = FrameReader(response)
            await reader.until(text_deltas(2))
            partial: dict[str, Any] = {}
            for _ in range(100):  # the keeper writes within a few ticks
                partial = (await client.get(f"/api/conversations/{cid}/messages")).json()["items"][-1]
                if partial["content"]:
                    break
                await asyncio.sleep(0.05)
            assert partial["status"] == "streaming" and partial["content"], "no checkpoint while streaming"
            await client.post(f"/api/conversations/{cid}/cancel")
            await reader.rest()
        final = (await client.get(f"/api/conversations/{cid}/messages")).json()["items"][-1]
        assert final["status"] == "interrupted"
        assert final["content"].startswith(partial["content"]) and final["content"] == reader.text
