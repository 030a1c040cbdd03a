"""How a turn ends when Coze did not end it: the Coze chat is cancelled so the conversation is free at
once; a conversation Coze still holds busy is a 409 with Retry-After and nothing stored; a shutdown
stores the partial answer as interrupted."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
from gateway_helpers import (
    TOKEN,
    emulator,
    eventually,
    gateway,
    parse_frames,
    recording,
    started,
    token_settings,
)
from sqlalchemy import update

from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport
from botport.chat.handles import TurnRequest
from botport.emulator.bots import SLOW_BOT_ID
from botport.emulator.faults import Faults
from botport.identity import Identity
from botport.store import Database
from botport.store import repository as repo
from botport.store.tables import messages
from botport.store.types import utcnow


async def test_a_cut_stream_cancels_its_coze_chat_and_frees_the_conversation(tmp_path: Path) -> None:
    coze = emulator({"demo": Faults(cut_after=3, delta_delay=0.02)})
    transport = recording(coze)
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        first = await gw.send(cid, "hello")
        assert first[-1].event == "error" and first[-1].data["code"] == "upstream_unreachable"
        assert transport.paths("/v3/chat/cancel"), "the orphaned Coze chat was cancelled"
        (chat,) = coze.state.emulator.store.chats.values()  # type: ignore[attr-defined]
        assert chat.status == "canceled"
        # Coze is free: the next question is taken at once (the stream is cut again, but not refused).
        second = await gw.client.post(f"/api/conversations/{cid}/messages", json={"content": "again"})
        assert second.status_code == 200
        assert parse_frames(second.content)[0].event == "turn.started"
        statuses = [m["status"] for m in await gw.messages(cid)]
        assert statuses == ["completed", "failed", "completed", "failed"]


async def test_coze_still_busy_is_a_409_with_retry_after_and_nothing_stored(tmp_path: Path) -> None:
    coze = emulator()
    transport = recording(coze)
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "hello")
        before = await gw.messages(cid)
        (sent,) = transport.paths("/v3/chat")
        # A chat botport does not know about runs in the same Coze conversation (another client of
        # the same Coze user, or one left by a crash that no one could cancel).
        coze_conversation = next(iter(coze.state.emulator.store.conversations.values())).id  # type: ignore[attr-defined]
        async with httpx.AsyncClient(
            transport=StreamingASGITransport(coze), base_url="http://coze"
        ) as direct:
            started_chat = await direct.post(
                "/v3/chat",
                params={"conversation_id": coze_conversation},
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={
                    "bot_id": SLOW_BOT_ID,
                    "user_id": sent.body["user_id"],
                    "stream": False,
                    "additional_messages": [
                        {"role": "user", "content": "/slow busy", "content_type": "text"}
                    ],
                },
            )
            assert started_chat.json()["code"] == 0
            busy = await gw.client.post(f"/api/conversations/{cid}/messages", json={"content": "now?"})
            assert busy.status_code == 409
            assert busy.json()["error"]["code"] == "conversation_busy"
            assert int(busy.headers["retry-after"]) >= 1
            assert await gw.messages(cid) == before  # no failed turn, no orphan question
            await direct.post(
                "/v3/chat/cancel",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={"conversation_id": coze_conversation, "chat_id": started_chat.json()["data"]["id"]},
            )
        after = await gw.send(cid, "now?")
        assert after[-1].event == "turn.completed"
        assert "> now?" in "".join(f.data.get("text", "") for f in after if f.event == "text.delta")


async def test_shutdown_stores_a_running_answer_as_interrupted(tmp_path: Path) -> None:
    settings = token_settings(tmp_path)
    transport = recording()
    app = create_app(settings, upstream_transport=transport)
    identity = Identity("web", "shutdown-test")
    async with started(app):
        services = app.state.services
        async with services.db.connect() as conn:
            conversation = await repo.create_conversation(conn, owner=identity.owner, bot="slow")
        handle = await services.chat.start_turn(
            TurnRequest(identity=identity, conversation_id=conversation.id, content="/slow a long story")
        )
        for _ in range(200):  # until some text is in
            turn = services.chat._by_message.get(handle.message_id)
            if turn is not None and turn.state.content:
                break
            await asyncio.sleep(0.02)
    assert transport.paths("/v3/chat/cancel"), "the Coze chat was cancelled on the way out"
    db = Database(settings.resolved_database_url)
    try:
        async with db.read() as conn:
            stored = await repo.get_message(conn, message_id=handle.message_id)
    finally:
        await db.close()
    assert stored is not None
    assert stored.status == "interrupted" and stored.error_code == "shutdown"
    assert stored.content


async def test_an_instance_never_sweeps_its_own_running_turn(tmp_path: Path) -> None:
    """A heartbeat written late (a loop too busy for the keeper's write) must not make the instance
    resolve its own live turn as lost: the sweep leaves what this instance runs, which goes on
    until it ends as this instance says."""
    coze = emulator({"slow": Faults(delta_delay=0.05)})
    async with gateway(token_settings(tmp_path), recording(coze)) as gw:
        chat = gw.app.state.services.chat
        someone = Identity("web", "sweep-test")
        async with chat.db.connect() as conn:
            conversation = await repo.create_conversation(conn, owner=someone.owner, bot="slow")
        request = TurnRequest(
            identity=someone, conversation_id=conversation.id, content="/slow take your time"
        )
        handle = await chat.start_turn(request)

        async def stored_chat_id() -> str | None:
            async with chat.db.read() as conn:
                message = await repo.get_message(conn, message_id=handle.answer.id)
            return message.upstream_chat_id if message else None

        assert await eventually(stored_chat_id, timeout=5)  # the keeper wrote what it learnt
        long_ago = utcnow() - timedelta(hours=1)
        async with chat.db.connect() as conn:  # as if every heartbeat had been missed
            await conn.execute(
                update(messages).where(messages.c.id == handle.answer.id).values(heartbeat_at=long_ago)
            )
        assert await chat.keeper.sweep(lease=chat.lease) == 0
        assert chat.is_running(conversation.id)
        chat.stop_turn(handle, "cancelled", "enough")  # ends as this instance says, not as lost
        result = await chat.result(handle)
        assert result.message.status == "interrupted" and result.message.error_code == "cancelled"
