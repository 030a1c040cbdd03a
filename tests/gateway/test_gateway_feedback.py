"""Rating an answer: ``PUT /api/conversations/{id}/messages/{message_id}/feedback``. Stored at once,
shown in the message list, and sent to Coze as the message's feedback (like / unlike, a comment;
removed with DELETE) off the request path, tried again while Coze cannot be reached."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import (
    Gateway,
    RecordingTransport,
    emulator,
    eventually,
    gateway,
    recording,
    token_settings,
)
from sqlalchemy import update
from starlette.applications import Starlette

from botport.asgi_transport import StreamingASGITransport
from botport.chat.coze_sync import CozeSync
from botport.store.keys import create_api_key
from botport.store.tables import messages


def _feedback_url(cid: str, message_id: str) -> str:
    return f"/api/conversations/{cid}/messages/{message_id}/feedback"


def _coze_feedback(coze: Starlette) -> dict[str, Any]:
    feedback: dict[str, Any] = coze.state.emulator.store.feedback
    return feedback


def _coze_answer_id(coze: Starlette, content: str) -> str:
    """The id Coze gave the answer with this text."""
    for conversation in coze.state.emulator.store.conversations.values():
        for message in conversation.messages:
            if message.type == "answer" and message.content == content:
                return str(message.id)
    raise AssertionError(f"no answer {content!r} on Coze")


async def _answered(gw: Gateway, question: str = "hello") -> tuple[str, dict[str, Any]]:
    cid = await gw.conversation()
    await gw.send(cid, question)
    return cid, (await gw.messages(cid))[-1]


async def _settled(gw: Gateway) -> None:
    sync: CozeSync = gw.app.state.services.coze_sync
    await sync.settled()


async def test_like_unlike_remove_reach_coze(tmp_path: Path) -> None:
    coze = emulator()
    transport = recording(coze)
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid, answer = await _answered(gw)
        assert answer["feedback"] is None
        coze_id = _coze_answer_id(coze, answer["content"])
        url = _feedback_url(cid, answer["id"])

        liked = await gw.client.put(url, json={"rating": "like", "comment": "  清楚，谢谢  "})
        assert liked.status_code == 200, liked.text
        assert liked.json() == {
            "message_id": answer["id"],
            "feedback": {"rating": "like", "comment": "清楚，谢谢"},
        }
        await _settled(gw)
        sent = _coze_feedback(coze)[coze_id]
        assert (sent.feedback_type, sent.comment) == ("like", "清楚，谢谢")
        assert (await gw.messages(cid))[-1]["feedback"] == {"rating": "like", "comment": "清楚，谢谢"}

        unliked = await gw.client.put(url, json={"rating": "unlike"})
        assert unliked.json()["feedback"] == {"rating": "unlike", "comment": None}
        await _settled(gw)
        sent = _coze_feedback(coze)[coze_id]
        assert (sent.feedback_type, sent.comment) == ("unlike", "")

        removed = await gw.client.put(url, json={"rating": None})
        assert removed.status_code == 200 and removed.json() == {"message_id": answer["id"], "feedback": None}
        await _settled(gw)
        assert coze_id not in _coze_feedback(coze)
        assert (await gw.messages(cid))[-1]["feedback"] is None
        # Removing again is fine here, and Coze's "no feedback to delete" counts as done.
        assert (await gw.client.put(url, json={"rating": None})).status_code == 200
        await _settled(gw)

    feedback_calls = [(r.method, r.body) for r in transport.requests if r.path.endswith("/feedback")]
    assert feedback_calls == [
        ("POST", {"feedback_type": "like", "comment": "清楚，谢谢"}),
        ("POST", {"feedback_type": "unlike"}),
        ("DELETE", None),
        ("DELETE", None),
    ]
    assert {r.path for r in transport.requests if r.path.endswith("/feedback")} == {
        f"/v1/conversations/{sent.conversation_id}/messages/{coze_id}/feedback"
    }


async def test_only_the_owners_completed_answers_can_be_rated(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid, answer = await _answered(gw)
        question = (await gw.messages(cid))[0]
        like = {"rating": "like"}

        async def error(cid: str, message_id: str, status: int, code: str, client: Any = gw.client) -> None:
            response = await client.put(_feedback_url(cid, message_id), json=like)
            assert response.status_code == status, response.text
            assert response.json()["error"]["code"] == code

        await error(cid, question["id"], 409, "not_an_answer")
        await error(cid, "0" * 32, 404, "message_not_found")
        await error("0" * 32, answer["id"], 404, "conversation_not_found")
        other_cid, _ = await _answered(gw)
        await error(other_cid, answer["id"], 404, "message_not_found")
        async with gw.other_client() as stranger:
            await error(cid, answer["id"], 404, "conversation_not_found", stranger)

        failed_cid, failed = await _answered(gw, "/fail now")
        assert failed["status"] == "failed"
        await error(failed_cid, failed["id"], 409, "answer_not_completed")

        url = _feedback_url(cid, answer["id"])
        too_long = {"rating": "like", "comment": "x" * 1001}
        for body in ({"rating": "love"}, {}, too_long, {"rating": "like", "x": 1}, {"rating": True}):
            assert (await gw.client.put(url, json=body)).status_code == 422, body
        assert (await gw.client.put(url, json={**like, "comment": "x" * 1000})).is_success
        assert all(m["feedback"] is None for m in await gw.messages(failed_cid))


async def test_an_api_key_rates_its_own_answers(tmp_path: Path) -> None:
    coze = emulator()
    async with gateway(token_settings(tmp_path), recording(coze)) as gw:
        async with gw.app.state.services.db.connect() as conn:
            key, _ = await create_api_key(conn, name="feedback")
        headers = {"Authorization": f"Bearer {key}"}
        cid = (await gw.client.post("/api/conversations", json={}, headers=headers)).json()["id"]
        sent = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": "hi", "stream": False}, headers=headers
        )
        answer = sent.json()
        assert sent.status_code == 200 and answer["feedback"] is None
        rated = await gw.client.put(
            _feedback_url(cid, answer["id"]), json={"rating": "unlike"}, headers=headers
        )
        assert rated.status_code == 200
        # The browser (another identity) cannot see it, let alone rate it.
        assert (
            await gw.client.put(_feedback_url(cid, answer["id"]), json={"rating": "like"})
        ).status_code == 404
        await _settled(gw)
        assert _coze_feedback(coze)[_coze_answer_id(coze, answer["content"])].feedback_type == "unlike"


async def test_an_answer_without_a_coze_message_id_is_rated_here_only(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid, answer = await _answered(gw)
        async with gw.app.state.services.db.connect() as conn:  # as an answer stored before botport kept it
            await conn.execute(update(messages).values(upstream_message_id=None))
        rated = await gw.client.put(_feedback_url(cid, answer["id"]), json={"rating": "like"})
        assert rated.status_code == 200 and rated.json()["feedback"]["rating"] == "like"
        await _settled(gw)
        assert (await gw.messages(cid))[-1]["feedback"] == {"rating": "like", "comment": None}
    assert not [r for r in transport.requests if r.path.endswith("/feedback")]


@dataclass
class Unplugged(httpx.AsyncBaseTransport):
    """The emulator behind a cable a test can pull: while ``down``, every request fails to connect."""

    inner: RecordingTransport
    down: bool = False
    refused: list[str] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self.refused.append(f"{request.method} {request.url.path}")
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def test_coze_down_while_rating_answers_at_once_and_sends_when_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="botport.chat.coze_sync")
    coze = emulator()
    cable = Unplugged(RecordingTransport(StreamingASGITransport(coze)))
    async with gateway(token_settings(tmp_path), cable) as gw:
        cid, answer = await _answered(gw)
        coze_id = _coze_answer_id(coze, answer["content"])
        cable.down = True
        started = time.monotonic()
        rated = await gw.client.put(_feedback_url(cid, answer["id"]), json={"rating": "like"})
        assert rated.status_code == 200 and time.monotonic() - started < 1.0
        assert await eventually(lambda: cable.refused)
        assert (await gw.messages(cid))[-1]["feedback"]["rating"] == "like"  # stored, whatever Coze does
        assert coze_id not in _coze_feedback(coze)
        # Changed again while Coze is down: only the latest rating is sent once it is back.
        await gw.client.put(_feedback_url(cid, answer["id"]), json={"rating": "unlike", "comment": "wrong"})
        cable.down = False
        assert await eventually(lambda: coze_id in _coze_feedback(coze), timeout=10)
        await _settled(gw)
        assert (_coze_feedback(coze)[coze_id].feedback_type, _coze_feedback(coze)[coze_id].comment) == (
            "unlike",
            "wrong",
        )
    posts = [r.body for r in cable.inner.requests if r.path.endswith("/feedback")]
    assert posts == [{"feedback_type": "unlike", "comment": "wrong"}]
    assert "did not go through" in caplog.text
