"""The connections to Coze are a sized pool: when every one is in use, a new turn is refused at once
with 503 + Retry-After and nothing stored — never a stored ``failed`` turn that blames Coze."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gateway_helpers import emulator, gateway, token_settings

from botport.chat.handles import TurnRequest
from botport.identity import Identity
from botport.store import repository as repo
from botport.store.keys import create_api_key

pytestmark = pytest.mark.live


async def test_a_full_pool_is_503_with_retry_after_and_stores_nothing(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    coze = live_server(emulator())  # a real socket, so the real connection pool is in play
    settings = token_settings(
        tmp_path, coze_base_url=coze.url, upstream_max_connections=2, connect_timeout=0.5
    )
    async with gateway(settings) as gw:
        chat = gw.app.state.services.chat
        someone = Identity("web", "pool-test")
        running = []
        for _ in range(2):  # two long answers hold both connections
            async with chat.db.connect() as conn:
                conversation = await repo.create_conversation(conn, owner=someone.owner, bot="slow")
            running.append(
                await chat.start_turn(
                    TurnRequest(identity=someone, conversation_id=conversation.id, content="/slow hold on")
                )
            )
        cid = await gw.conversation("demo")
        refused = await gw.client.post(f"/api/conversations/{cid}/messages", json={"content": "me too"})
        assert refused.status_code == 503, refused.text[-600:]
        assert refused.json()["error"]["code"] == "upstream_busy"
        assert int(refused.headers["retry-after"]) >= 1
        assert await gw.messages(cid) == []  # no question left behind, no failed answer
        # A turn that would start a conversation (OpenAI with a history, the tool without an id):
        # refused just the same, and no conversation is left behind.
        async with chat.db.connect() as conn:
            key, _ = await create_api_key(conn, name="pool test")
        before = await gw.client.get("/api/conversations")
        async with gw.other_client(headers={"Authorization": f"Bearer {key}"}) as program:
            history = [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "me too"},
            ]
            openai = await program.post("/v1/chat/completions", json={"model": "demo", "messages": history})
            assert openai.status_code == 503, openai.text[-600:]
            tool = await program.post("/api/tool/ask", json={"question": "me too"})
            assert tool.status_code == 503, tool.text[-600:]
            assert (await program.get("/api/conversations")).json()["items"] == []
        assert (await gw.client.get("/api/conversations")).json() == before.json()

        for handle in running:
            chat.stop_turn(handle, "cancelled", "test over")
        for handle in running:
            assert (await chat.result(handle)).message.status == "interrupted"
        await asyncio.sleep(0.1)
        accepted = await gw.client.post(
            f"/api/conversations/{cid}/messages", json={"content": "me too", "stream": False}
        )
        assert accepted.status_code == 200 and accepted.json()["status"] == "completed"


async def test_turns_reuse_their_connection_to_coze(tmp_path: Path, live_server: Callable[..., Any]) -> None:
    """A turn reads Coze's response to its end after ``done``, so the connection goes back to the
    pool: one turn after another, the same TCP connection (no new handshake per turn)."""
    coze_app = emulator()
    peers: list[tuple[str, int]] = []

    async def recording_peers(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/v3/chat":
            peers.append(scope["client"])
        await coze_app(scope, receive, send)

    coze = live_server(recording_peers)
    async with gateway(token_settings(tmp_path, coze_base_url=coze.url)) as gw:
        cid = await gw.conversation("demo")
        for question in ("one", "two", "three"):
            frames = await gw.send(cid, question)
            assert frames[-1].event == "turn.completed"
    assert len(peers) == 3
    assert len(set(peers)) == 1, peers
