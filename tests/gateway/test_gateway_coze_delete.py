"""Deleting a conversation deletes its Coze conversation too: after the local delete, off the request
path, tried again while Coze is unreachable, answers 5xx or still runs the chat botport just stopped
(4016); "not found" counts as done. The request itself is answered at once, whatever Coze does."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import TOKEN, Gateway, emulator, eventually, gateway, recording, token_settings
from starlette.applications import Starlette

from botport.app import create_app
from botport.chat.coze_sync import CozeSync
from botport.emulator.bots import SLOW_BOT_ID
from botport.upstream.events import ChatEventType
from botport.upstream.models import EnterMessage
from net_faults import CuttableProxy


def _coze_conversations(coze: Starlette) -> dict[str, Any]:
    conversations: dict[str, Any] = coze.state.emulator.store.conversations
    return conversations


def _sync(gw: Gateway) -> CozeSync:
    sync: CozeSync = gw.app.state.services.coze_sync
    return sync


async def test_delete_removes_the_coze_conversation(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    coze = emulator()
    transport = recording(coze)
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "hello")
        await gw.send(cid, "again")  # the second turn continues the same Coze conversation
        (coze_id,) = _coze_conversations(coze)
        deleted = await gw.client.delete(f"/api/conversations/{cid}")
        assert deleted.status_code == 204
        await _sync(gw).settled()
        assert coze_id not in _coze_conversations(coze)
        (delete,) = [r for r in transport.requests if r.method == "DELETE"]
        assert delete.path == f"/v1/conversations/{coze_id}"
        assert delete.headers["authorization"] == f"Bearer {TOKEN}"
        assert (await gw.client.get(f"/api/conversations/{cid}")).status_code == 404
    assert TOKEN not in caplog.text


async def test_a_conversation_coze_never_saw_is_deleted_here_only(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        assert (await gw.client.delete(f"/api/conversations/{cid}")).status_code == 204
        await _sync(gw).settled()
    assert transport.requests == []


async def test_someone_elses_conversation_is_404_and_stays_on_coze(tmp_path: Path) -> None:
    coze = emulator()
    async with gateway(token_settings(tmp_path), recording(coze)) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "hello")
        async with gw.other_client() as other:
            assert (await other.delete(f"/api/conversations/{cid}")).status_code == 404
        await _sync(gw).settled()
        assert len(_coze_conversations(coze)) == 1
        assert len(await gw.messages(cid)) == 2


async def test_a_conversation_coze_lost_already_is_done(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    coze = emulator()
    async with gateway(token_settings(tmp_path), recording(coze)) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "hello")
        _coze_conversations(coze).clear()  # deleted on Coze meanwhile (its console, another client)
        assert (await gw.client.delete(f"/api/conversations/{cid}")).status_code == 204
        await _sync(gw).settled()
    assert not [
        r for r in caplog.records if r.levelno >= logging.WARNING and "Coze conversation" in r.message
    ]


async def test_delete_during_a_running_answer_stops_it_then_deletes_on_coze(tmp_path: Path) -> None:
    coze = emulator()
    transport = recording(coze)
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation("slow")
        await gw.send(cid, "hello")  # the Coze conversation exists; the next turn runs in it
        (coze_id,) = _coze_conversations(coze)
        sending = asyncio.create_task(
            gw.client.post(f"/api/conversations/{cid}/messages", json={"content": "/slow story"})
        )

        async def running() -> bool:
            detail = (await gw.client.get(f"/api/conversations/{cid}")).json()
            return detail["running_turn"] is not None and bool(transport.paths("/v3/chat")[1:])

        assert await eventually(running)
        started = time.monotonic()
        deleted = await gw.client.delete(f"/api/conversations/{cid}")
        assert deleted.status_code == 204 and time.monotonic() - started < 1.0
        await asyncio.wait_for(sending, timeout=10)
        await asyncio.wait_for(_sync(gw).settled(), timeout=15)
        assert coze_id not in _coze_conversations(coze)
        assert transport.paths("/v3/chat/cancel"), "the running Coze chat was cancelled first"
        deletes = [r for r in transport.requests if r.method == "DELETE"]
        assert deletes and {r.path for r in deletes} == {f"/v1/conversations/{coze_id}"}


async def test_coze_busy_4016_is_tried_again_until_its_chat_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A chat botport does not know of runs in the Coze conversation (another client of the same bot):
    Coze refuses the delete (4016) until that chat ends; botport's delete is tried again meanwhile."""
    caplog.set_level(logging.INFO, logger="botport.chat.coze_sync")
    coze = emulator()
    async with gateway(token_settings(tmp_path), recording(coze)) as gw:
        cid = await gw.conversation("slow")
        await gw.send(cid, "hello")
        ((coze_id, record),) = _coze_conversations(coze).items()
        client = _sync(gw).coze
        question = [EnterMessage.user_text("/slow a long story")]
        chat = client.stream_chat(
            bot_id=SLOW_BOT_ID, user_id=record.owner_user_id, messages=question, conversation_id=coze_id
        )
        async with chat as stream:
            chat_id = None
            async for event in stream:
                if event.chat is not None and event.chat.id:
                    chat_id = event.chat.id
                if event.type is ChatEventType.MESSAGE_DELTA:
                    break
            assert chat_id is not None
            assert (await gw.client.delete(f"/api/conversations/{cid}")).status_code == 204
            assert await eventually(lambda: "did not go through" in caplog.text)
            assert coze_id in _coze_conversations(coze) and "4016" in caplog.text
            await client.cancel_chat(conversation_id=coze_id, chat_id=chat_id)
        await asyncio.wait_for(_sync(gw).settled(), timeout=10)
        assert coze_id not in _coze_conversations(coze)


@pytest.mark.live
async def test_coze_down_during_delete_answers_at_once_and_deletes_when_back(
    tmp_path: Path, live_server: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A real network failure: Coze (the emulator on a real server) behind a proxy that resets every
    connection while it is down."""
    caplog.set_level(logging.INFO, logger="botport.chat.coze_sync")
    coze = emulator()
    server = live_server(coze)
    proxy = CuttableProxy(server.url)
    try:
        async with gateway(token_settings(tmp_path, coze_base_url=proxy.url)) as gw:
            cid = await gw.conversation()
            await gw.send(cid, "hello")
            (coze_id,) = _coze_conversations(coze)
            proxy.down = True
            proxy.cut()  # the connections botport keeps open to Coze go too
            started = time.monotonic()
            deleted = await gw.client.delete(f"/api/conversations/{cid}")
            assert deleted.status_code == 204 and time.monotonic() - started < 1.0
            assert (await gw.client.get("/api/conversations")).json()["items"] == []
            assert await eventually(lambda: "did not go through" in caplog.text)
            assert coze_id in _coze_conversations(coze)  # Coze could not be told yet
            assert _sync(gw).pending == 1
            proxy.down = False
            assert await eventually(lambda: coze_id not in _coze_conversations(coze), timeout=15)
            await asyncio.wait_for(_sync(gw).settled(), timeout=5)
    finally:
        proxy.close()
    assert TOKEN not in caplog.text


async def test_coze_5xx_is_tried_again_then_given_up_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each failed try waits longer (here 0.05 s, doubling); after ``retry_for`` the change is given up
    with a warning that names the conversation and never the token."""
    caplog.set_level(logging.INFO, logger="botport.chat.coze_sync")
    seen: list[str] = []

    def failing(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        return httpx.Response(502, text="<html><body>Bad Gateway</body></html>", headers={"x-tt-logid": "L1"})

    async with gateway(token_settings(tmp_path), httpx.MockTransport(failing)) as gw:
        sync = CozeSync(_sync(gw).coze, first_pause=0.05, max_pause=0.2, retry_for=0.6)
        sync.delete_conversation("7300000000000000001")
        await asyncio.wait_for(sync.settled(), timeout=5)
    assert len(seen) >= 3 and set(seen) == {"DELETE /v1/conversations/7300000000000000001"}
    (gave_up,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "7300000000000000001" in gave_up.message and "giving up" in gave_up.message
    assert "logid=L1" in gave_up.message
    assert TOKEN not in caplog.text


async def test_a_refusal_is_not_tried_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def forbidden(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"code": 4101, "msg": "the token lacks the permission"})

    async with gateway(token_settings(tmp_path), httpx.MockTransport(forbidden)) as gw:
        sync = CozeSync(_sync(gw).coze, first_pause=0.05)
        sync.delete_conversation("7300000000000000002")
        await asyncio.wait_for(sync.settled(), timeout=5)
    assert len(seen) == 1
    assert "refused" in caplog.text and "4101" in caplog.text


async def test_shutdown_forgets_what_was_not_sent(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="botport.chat.coze_sync")
    unavailable = httpx.MockTransport(lambda request: httpx.Response(503))
    app = create_app(token_settings(tmp_path), upstream_transport=unavailable)
    async with app.router.lifespan_context(app):
        sync: CozeSync = app.state.services.coze_sync
        sync.delete_conversation("7300000000000000003")
        assert await eventually(lambda: "did not go through" in caplog.text)
        assert sync.pending == 1
    assert sync.pending == 0
    assert "not sent before the shutdown" in caplog.text
