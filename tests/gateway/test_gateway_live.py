"""When things happen, on a real uvicorn server: one running turn per conversation, cancel, client
disconnect. The upstream is the emulator behind a recording transport."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import (
    FrameReader,
    RecordingTransport,
    emulator,
    eventually,
    recording,
    text_deltas,
    token_settings,
)

from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport

pytestmark = pytest.mark.live

TIMEOUT = httpx.Timeout(30.0)


async def _start(tmp_path: Path, live_server: Callable[..., Any]) -> tuple[str, RecordingTransport]:
    transport = recording()
    server = live_server(create_app(token_settings(tmp_path), upstream_transport=transport))
    return str(server.url), transport


async def _new_conversation(client: httpx.AsyncClient, bot: str = "slow") -> str:
    response = await client.post("/api/conversations", json={"bot": bot})
    assert response.status_code == 201
    return str(response.json()["id"])


async def _messages(client: httpx.AsyncClient, cid: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await client.get(f"/api/conversations/{cid}/messages")).json()["items"]
    return items


async def test_second_send_while_streaming_is_409(tmp_path: Path, live_server: Callable[..., Any]) -> None:
    url, transport = await _start(tmp_path, live_server)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        cid = await _new_conversation(client)
        messages_url = f"/api/conversations/{cid}/messages"
        async with client.stream("POST", messages_url, json={"content": "tell me a story"}) as first:
            reader = FrameReader(first)
            await reader.until(text_deltas(2))
            for stream in (True, False):
                busy = await client.post(messages_url, json={"content": "me too", "stream": stream})
                assert busy.status_code == 409
                error = busy.json()["error"]
                assert error["code"] == "turn_in_progress"
                assert "still being written" in error["message"]
            # Other requests are served while the turn streams (no blocking of the event loop).
            started = time.monotonic()
            assert (await client.get("/api/config")).status_code == 200
            assert time.monotonic() - started < 5
            frames = await reader.rest()
        assert frames[-1].event == "turn.completed"
        assert frames[-1].data["status"] == "completed"
        assert "tell me a story" in reader.text

        items = await _messages(client, cid)
        assert [m["content"] for m in items if m["role"] == "user"] == ["tell me a story"]
        assert items[-1]["status"] == "completed" and items[-1]["content"] == reader.text

        after = await client.post(messages_url, json={"content": "now me", "stream": False})
        assert after.status_code == 200 and after.json()["status"] == "completed"
    assert len(transport.paths("/v3/chat")) == 2  # the refused sends never reached upstream


async def test_cancel_stops_the_stream_and_keeps_the_partial(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    url, transport = await _start(tmp_path, live_server)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        cid = await _new_conversation(client)
        nothing = await client.post(f"/api/conversations/{cid}/cancel")
        assert nothing.status_code == 200 and nothing.json() == {"cancelled": False}

        body = {"content": "/slow a long slow answer"}
        async with client.stream("POST", f"/api/conversations/{cid}/messages", json=body) as response:
            reader = FrameReader(response)
            await reader.until(text_deltas(2))
            cancelled_at = time.monotonic()
            cancel = await client.post(f"/api/conversations/{cid}/cancel")
            assert cancel.json() == {"cancelled": True}
            frames = await reader.rest()
            ended_after = time.monotonic() - cancelled_at
        assert ended_after < 5, "the stream should end promptly after a cancel (the answer takes ~15 s)"
        assert "turn.completed" not in [f.event for f in frames]
        last = frames[-1]
        assert last.event == "error"
        assert last.data["turn_status"] == "interrupted"
        assert last.data["code"] == "cancelled"

        answer = (await _messages(client, cid))[-1]
        assert answer["status"] == "interrupted"
        assert answer["content"] == reader.text
        assert "Turn 1." in answer["content"]
        assert "Try `/long`" not in answer["content"]  # cut well before the end
        assert answer["error"]["code"] == "cancelled"

        cancels = await eventually(lambda: transport.paths("/v3/chat/cancel"))
        assert cancels, "the emulator should have been told to cancel the chat"
        assert cancels[0].body["chat_id"] == _only_chat(transport)["id"]
        assert _only_chat(transport)["status"] == "canceled"

        again = await client.post(f"/api/conversations/{cid}/cancel")
        assert again.json() == {"cancelled": False}
        # Not stuck, and context carries past the interrupted turn.
        after = await client.post(
            f"/api/conversations/{cid}/messages", json={"content": "short one", "stream": False}
        )
        assert after.status_code == 200 and "Turn 2." in after.json()["content"]


async def test_cancel_reaches_a_turn_running_on_another_instance(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    """Two instances behind a load balancer share the database and Coze: Stop lands on the other one."""
    coze = emulator()
    first = live_server(create_app(token_settings(tmp_path), upstream_transport=recording(coze)))
    other_transport = recording(coze)
    other = live_server(create_app(token_settings(tmp_path), upstream_transport=other_transport))
    async with (
        httpx.AsyncClient(base_url=str(first.url), timeout=TIMEOUT) as here,
        httpx.AsyncClient(base_url=str(other.url), timeout=TIMEOUT) as there,
    ):
        cid = await _new_conversation(here)
        there.cookies = here.cookies  # the same browser, routed to the other instance
        body = {"content": "/slow a long slow answer"}
        async with here.stream("POST", f"/api/conversations/{cid}/messages", json=body) as response:
            reader = FrameReader(response)
            await reader.until(text_deltas(2))
            cancelled_at = time.monotonic()
            cancel = await there.post(f"/api/conversations/{cid}/cancel")
            assert cancel.json() == {"cancelled": True}
            frames = await reader.rest()
            assert time.monotonic() - cancelled_at < 5, "the stream should end promptly after a cancel"
        assert frames[-1].event == "error" and frames[-1].data["turn_status"] == "interrupted"
        assert other_transport.paths("/v3/chat/cancel"), "the other instance asked Coze to cancel"
        answer = (await _messages(there, cid))[-1]
        assert answer["status"] == "interrupted"
        assert answer["content"] == reader.text and "Turn 1." in answer["content"]


def _only_chat(transport: RecordingTransport) -> dict[str, Any]:
    """The one chat the emulator ran, as Coze would report it."""
    inner = transport.inner
    assert isinstance(inner, StreamingASGITransport)
    (chat,) = inner.app.state.emulator.store.chats.values()  # type: ignore[attr-defined]
    wire: dict[str, Any] = chat.to_wire()
    return wire


async def test_a_client_that_leaves_only_stops_watching(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    """The default: the turn is a server-side job; it runs to its end and is stored completed."""
    url, transport = await _start(tmp_path, live_server)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        cid = await _new_conversation(client)
        body = {"content": "tell me while I am away"}
        async with client.stream("POST", f"/api/conversations/{cid}/messages", json=body) as response:
            reader = FrameReader(response)
            await reader.until(text_deltas(2))
            seen = reader.text

        async def completed() -> dict[str, Any] | None:
            answer = (await _messages(client, cid))[-1]
            return answer if answer["status"] == "completed" else None

        answer = await eventually(completed, timeout=20)
        assert answer, "the answer should run to its end without its client"
        assert answer["content"].startswith(seen) and len(answer["content"]) > len(seen)
        assert not transport.paths("/v3/chat/cancel")
        assert _only_chat(transport)["status"] == "completed"


async def test_cancel_on_disconnect_stores_interrupted_and_frees_the_conversation(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    url, transport = await _start(tmp_path, live_server)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        cid = await _new_conversation(client)
        body = {"content": "/slow read me slowly", "cancel_on_disconnect": True}
        async with client.stream("POST", f"/api/conversations/{cid}/messages", json=body) as response:
            reader = FrameReader(response)
            await reader.until(text_deltas(3))
            seen = reader.text
        # Leaving the block closed the connection mid-stream.

        async def interrupted() -> dict[str, Any] | None:
            answer = (await _messages(client, cid))[-1]
            return answer if answer["status"] == "interrupted" else None

        answer = await eventually(interrupted)
        assert answer, "the answer should be stored as interrupted within a few seconds"
        assert answer["content"].startswith(seen) and seen
        assert "Try `/long`" not in answer["content"]
        assert answer["error"]["code"] == "client_disconnected"

        assert await eventually(lambda: transport.closed >= 1), "the upstream stream should be closed"
        assert await eventually(lambda: transport.paths("/v3/chat/cancel"))
        assert _only_chat(transport)["status"] == "canceled"

        after = await client.post(
            f"/api/conversations/{cid}/messages", json={"content": "are you free?", "stream": False}
        )
        assert after.status_code == 200, after.text
        assert after.json()["status"] == "completed"


async def test_delete_while_streaming(tmp_path: Path, live_server: Callable[..., Any]) -> None:
    url, transport = await _start(tmp_path, live_server)
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as client:
        cid = await _new_conversation(client)
        body = {"content": "/slow going away"}
        async with client.stream("POST", f"/api/conversations/{cid}/messages", json=body) as response:
            reader = FrameReader(response)
            await reader.until(text_deltas(1))
            deleted = await client.delete(f"/api/conversations/{cid}")
            assert deleted.status_code == 204
            frames = await reader.rest()
        assert frames[-1].event == "error" and frames[-1].data["turn_status"] == "interrupted"
        assert (await client.get(f"/api/conversations/{cid}")).status_code == 404
        assert (await client.get("/api/conversations")).json()["items"] == []
        assert await eventually(lambda: transport.paths("/v3/chat/cancel"))
        # The server is healthy: a new conversation streams normally.
        fresh = await _new_conversation(client, bot="demo")
        body = {"content": "hi", "stream": False}
        ok = await client.post(f"/api/conversations/{fresh}/messages", json=body)
        assert ok.status_code == 200 and ok.json()["status"] == "completed"
