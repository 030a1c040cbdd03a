"""Upstream failures: a clear error frame (or a 502 JSON), the partial answer kept as ``failed``, and
nothing already stored lost."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from gateway_helpers import Gateway, emulator, events_of, gateway, only, recording, token_settings

from botport.emulator.faults import Faults


@dataclass(frozen=True)
class Case:
    bot: str
    question: str
    faults: Faults | None
    code: str
    upstream_code: int | None
    partial: bool  # some answer text arrived before the failure (the demo bot reasons for ~20 deltas)
    message_part: str


CASES = {
    "failing_bot": Case("failing", "hi", None, "chat_failed", 5000, True, "scripted failure"),
    "fail_command": Case("demo", "/fail now", None, "chat_failed", 5000, True, "on purpose"),
    "error_event": Case("demo", "/error now", None, "coze_error", 5000, True, "broke the stream"),
    "http_503": Case("demo", "hi", Faults(http_status=503), "upstream_http_error", None, False, "503"),
    "auth_4100": Case("demo", "hi", Faults(envelope_error=4100), "coze_auth_failed", 4100, False, "4100"),
    "unpublished_4015": Case(
        "demo", "hi", Faults(envelope_error=4015), "bot_not_published", 4015, False, "4015"
    ),
    "cut_mid_answer": Case("demo", "hi", Faults(cut_after=30), "upstream_unreachable", None, True, ""),
}


async def _earlier_turn(gw: Gateway, cid: str) -> list[dict[str, object]]:
    """A good turn first (on a bot that works), so we can check it survives the failure."""
    response = await gw.client.post(
        f"/api/conversations/{cid}/messages", json={"content": "an earlier question", "stream": False}
    )
    assert response.status_code == 200
    return await gw.messages(cid)


@pytest.mark.parametrize("name", list(CASES))
async def test_stream_failure_gives_an_error_frame_and_keeps_the_partial(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    faults = {case.bot: case.faults} if case.faults else {}
    async with gateway(token_settings(tmp_path), recording(emulator(faults))) as gw:
        cid = await gw.conversation(case.bot)
        frames = await gw.send(cid, case.question)
        names = events_of(frames)
        assert names[0] == "turn.started" and names[-1] == "error", names
        assert "turn.completed" not in names and "message.completed" not in names
        error = frames[-1].data
        assert error["code"] == case.code
        assert error["turn_status"] == "failed"
        assert error["status"] in (502, 504)
        assert case.message_part in error["message"]
        assert error["message_id"] == frames[0].data["message_id"]
        assert error.get("upstream_code") == case.upstream_code
        assert error["logid"], "the upstream x-tt-logid must reach the user"
        text = "".join(f.data["text"] for f in frames if f.event == "text.delta")
        assert bool(text) is case.partial

        user, answer = await gw.messages(cid)
        assert (user["role"], user["content"], user["status"]) == ("user", case.question, "completed")
        assert answer["id"] == error["message_id"]
        assert answer["status"] == "failed"
        assert answer["content"] == text
        assert answer["error"]["code"] == case.code
        assert answer["error"]["logid"] == error.get("logid")

        # The conversation is not stuck: another send starts a new turn.
        again = await gw.client.post(f"/api/conversations/{cid}/messages", json={"content": "retry"})
        assert again.status_code == 200
        assert len(await gw.messages(cid)) == 4


@pytest.mark.parametrize("name", ["failing_bot", "http_503", "auth_4100", "cut_mid_answer"])
async def test_stream_false_failure_is_a_502_json(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    faults = {case.bot: case.faults} if case.faults else {}
    async with gateway(token_settings(tmp_path), recording(emulator(faults))) as gw:
        cid = await gw.conversation(case.bot)
        response = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": case.question, "stream": False}
        )
        assert response.status_code == 502
        body = response.json()
        assert body["status"] == "failed"
        assert body["error"]["code"] == case.code
        assert (await gw.messages(cid))[-1] == body


async def test_earlier_history_survives_a_failure(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        before = await _earlier_turn(gw, cid)
        frames = await gw.send(cid, "/fail please")
        assert frames[-1].event == "error"
        after = await gw.messages(cid)
        assert after[:2] == before
        assert [m["status"] for m in after[2:]] == ["completed", "failed"]
        # And context still carries after the failed turn.
        frames = await gw.send(cid, "still there?")
        assert "Turn 3." in only(frames, "message.completed").data["content"]


async def test_connect_failure(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with gateway(token_settings(tmp_path), httpx.MockTransport(refuse)) as gw:
        cid = await gw.conversation()
        frames = await gw.send(cid, "anyone there?")
        assert events_of(frames) == ["turn.started", "error"]
        error = frames[-1].data
        assert error["code"] == "upstream_unreachable"
        assert error["turn_status"] == "failed" and error["status"] == 502
        user, answer = await gw.messages(cid)
        assert user["content"] == "anyone there?"
        assert answer["status"] == "failed" and answer["content"] == ""

        response = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": "again", "stream": False}
        )
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "upstream_unreachable"


async def test_garbage_from_upstream_is_a_protocol_error(tmp_path: Path) -> None:
    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>captive portal</html>", headers={"x-tt-logid": "LOG123"})

    async with gateway(token_settings(tmp_path), httpx.MockTransport(garbage)) as gw:
        cid = await gw.conversation()
        frames = await gw.send(cid, "hello?")
        error = frames[-1].data
        assert frames[-1].event == "error"
        assert error["code"].startswith("upstream_")
        assert error.get("logid") == "LOG123"
        assert (await gw.messages(cid))[-1]["status"] == "failed"
