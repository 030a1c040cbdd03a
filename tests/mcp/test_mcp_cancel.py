"""A call its client stops, stops the turn: the Coze chat is cancelled and the partial answer stored as
interrupted. Three ways a client stops: the current protocol closes the call's response stream, the
2025 protocol posts ``notifications/cancelled`` (a request of its own, over stateless HTTP), and a
client may just go away."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest
from mcp_helpers import McpServer, connect, latest_conversation, stored_answer

pytestmark = pytest.mark.live

SLOWLY = {"question": "/slow take your time"}  # 0.3 s a word: cancelled long before its end


@pytest.mark.parametrize(("mode", "how"), [("auto", "closed stream"), ("legacy", "notifications/cancelled")])
async def test_a_cancelled_call_stops_the_turn_and_its_coze_chat(
    mcp_server: McpServer, mode: str, how: str
) -> None:
    async with connect(mcp_server, mode=mode) as client:
        with anyio.fail_after(10), anyio.CancelScope() as call:

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                if progress > 0:  # the bot has begun: cancel mid-answer
                    call.cancel()

            await client.call_tool("ask_slow", SLOWLY, progress_callback=on_progress)
        assert call.cancelled_caught
        conversation_id = await latest_conversation(mcp_server)
        answer = await stored_answer(mcp_server, conversation_id)
        # The client is still usable afterwards.
        assert not (await client.call_tool("ask_demo", {"question": "still there?"})).is_error
    assert answer["status"] == "interrupted", how
    assert answer["error"]["code"] == "client_cancelled"
    assert answer["error"]["message"] == "the MCP client cancelled the call"
    assert answer["reasoning"]  # what was streamed before the cancel is kept
    assert "/v3/chat/cancel" in mcp_server.upstream.paths


async def test_a_client_that_goes_away_stops_the_turn(mcp_server: McpServer) -> None:
    """A 2025 client on stateless HTTP that closes the connection mid-call (no cancel notification)."""
    call = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "ask_slow", "arguments": SLOWLY, "_meta": {"progressToken": "p"}},
    }
    headers = {
        "Authorization": f"Bearer {mcp_server.key}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-06-18",
    }
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream("POST", mcp_server.endpoint, json=call, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: ") and json.loads(line[6:]).get("params", {}).get("progress", 0) > 0:
                break  # the bot has begun: leave
    answer = await stored_answer(mcp_server, await latest_conversation(mcp_server))
    assert answer["status"] == "interrupted"
    assert (answer["error"]["code"], answer["error"]["message"]) == (
        "client_disconnected",
        "the client went away",
    )
    assert "/v3/chat/cancel" in mcp_server.upstream.paths


async def test_a_cancel_naming_no_call_of_the_key_stops_nothing(mcp_server: McpServer) -> None:
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
    async with connect(mcp_server, mode="legacy") as client, httpx.AsyncClient(timeout=10) as http:
        other = await mcp_server.other_key()
        async with anyio.create_task_group() as tasks:
            results = []

            async def ask() -> None:
                results.append(await client.call_tool("ask_slow", {"question": "hi"}))

            tasks.start_soon(ask)
            await anyio.sleep(0.3)
            # Another key's cancel for the same request id (each client counts its own from 1).
            for request_id in range(1, 6):
                cancel["params"] = {"requestId": request_id}
                posted = await http.post(
                    mcp_server.endpoint, json=cancel, headers={**headers, "Authorization": f"Bearer {other}"}
                )
                assert posted.status_code == 202
    assert not results[0].is_error
    answer = await stored_answer(mcp_server, await latest_conversation(mcp_server))
    assert answer["status"] == "completed"
