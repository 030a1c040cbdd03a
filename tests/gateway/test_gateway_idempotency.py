"""``Idempotency-Key`` on every edge that starts a turn: a repeat from the same identity re-attaches
to (or returns the result of) the first turn, never a second Coze chat."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway_helpers import Gateway, RecordingTransport, gateway, parse_frames, recording, token_settings
from test_gateway_seed import seed_body

from botport.store.keys import create_api_key


async def _api_key(gw: Gateway) -> str:
    async with gw.app.state.services.db.connect() as conn:
        plaintext, _ = await create_api_key(conn, name="idempotency tests")
    return plaintext


def _chats(transport: RecordingTransport) -> int:
    return len(transport.paths("/v3/chat"))


async def test_api_stream_repeat_re_attaches_from_the_start(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        key = {"Idempotency-Key": "send-1"}
        first = await gw.send(cid, "hello", headers=key)
        again = await gw.send(cid, "hello", headers=key)
        assert again[0].data["message_id"] == first[0].data["message_id"]
        assert again[0].id == 1 and again[-1].id == first[-1].id
        assert "".join(f.data.get("text", "") for f in again if f.event == "text.delta") == "".join(
            f.data.get("text", "") for f in first if f.event == "text.delta"
        )
        as_json = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": "hello", "stream": False}, headers=key
        )
        assert as_json.status_code == 200 and as_json.json()["id"] == first[0].data["message_id"]
        assert _chats(transport) == 1
        assert len(await gw.messages(cid)) == 2  # one question, one answer

        reused = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": "something else"}, headers=key
        )
        assert reused.status_code == 422
        assert reused.json()["error"]["code"] == "idempotency_key_reused"

        # Keys belong to an identity: another caller's same key is its own request.
        async with gw.other_client() as stranger:
            theirs = (await stranger.post("/api/conversations", json={})).json()["id"]
            response = await stranger.post(
                f"/api/conversations/{theirs}/messages", json={"content": "hello"}, headers=key
            )
            assert response.status_code == 200
            assert parse_frames(response.content)[0].data["message_id"] != first[0].data["message_id"]
        assert _chats(transport) == 2


async def test_concurrent_repeats_share_one_turn(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        key = {"Idempotency-Key": "twice-at-once"}
        body = {"content": "hello", "stream": False}
        url = f"/api/conversations/{cid}/messages"
        responses = await asyncio.gather(*(gw.client.post(url, json=body, headers=key) for _ in range(3)))
        assert [r.status_code for r in responses] == [200, 200, 200]
        assert len({r.json()["id"] for r in responses}) == 1
        assert _chats(transport) == 1


async def test_tool_ask_repeat_returns_the_first_answer(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        auth = {"Authorization": f"Bearer {await _api_key(gw)}", "Idempotency-Key": "ask-1"}
        first = await gw.client.post("/api/tool/ask", json={"question": "hello"}, headers=auth)
        again = await gw.client.post("/api/tool/ask", json={"question": "hello"}, headers=auth)
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json()
        assert _chats(transport) == 1
        listed = await gw.client.get("/api/conversations", headers={"Authorization": auth["Authorization"]})
        assert len(listed.json()["items"]) == 1  # the repeat left no empty conversation behind


async def test_seed_chat_repeat_returns_the_first_answer(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        key = {"Idempotency-Key": "seed-1"}
        first = await gw.client.post("/chat", json=seed_body("hello"), headers=key)
        again = await gw.client.post("/chat", json=seed_body("hello"), headers=key)
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json()
        assert _chats(transport) == 1
        other = await gw.client.post(
            "/chat", json=seed_body("hello again"), headers={"Idempotency-Key": "seed-2"}
        )
        assert other.status_code == 200 and "Turn 2." in other.json()["replies"][0]
        assert _chats(transport) == 2


async def test_a_failed_turn_says_not_to_retry(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation("failing")
        response = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": "hi", "stream": False}
        )
        assert response.status_code == 502
        assert response.headers["x-should-retry"] == "false"
        seed = await gw.client.post("/chat", json=seed_body("hi", bot_id="7000000000000000004"))
        assert seed.status_code == 502 and seed.headers["x-should-retry"] == "false"
