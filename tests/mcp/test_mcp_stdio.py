"""``botport mcp`` on stdio, launched as a subprocess as MCP clients do, with the MCP SDK's client:
in-process (demo mode, its own identity and data) and as a bridge to a running botport's /mcp."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp.client.client import Client
from mcp_helpers import McpServer, botport_mcp, latest_conversation, messages, stored_answer

pytestmark = pytest.mark.live

TIMEOUT = 30.0
DEMO_TOOLS = ["ask_demo", "ask_weather", "ask_slow", "ask_failing"]


async def _cancel_when_writing(client: Client, tool: str, question: str) -> bool:
    """Call ``tool`` and cancel the call once the bot streams; whether it was cancelled."""
    with anyio.fail_after(15), anyio.CancelScope() as call:

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            if progress > 0:
                call.cancel()

        await client.call_tool(tool, {"question": question}, progress_callback=on_progress)
    return call.cancelled_caught


async def test_in_process_it_serves_the_demo_bots_with_context_and_resources(tmp_path: Path) -> None:
    params = botport_mcp(data_dir=tmp_path)
    async with Client(params, read_timeout_seconds=TIMEOUT) as client:
        tools = (await client.list_tools()).tools
        assert [tool.name for tool in tools] == DEMO_TOOLS
        assert tools[0].title == "Demo"
        first = await client.call_tool("ask_demo", {"question": "my name is Ada"})
        assert first.structured_content is not None and not first.is_error
        conversation_id = first.structured_content["conversation_id"]
        second = await client.call_tool(
            "ask_demo", {"question": "and now?", "conversation_id": conversation_id}
        )
        assert second.structured_content is not None
        assert "Before that you asked: *my name is Ada*" in second.structured_content["answer"]

    # Its conversations persist in the data folder: the next run lists and reads them.
    async with Client(params, read_timeout_seconds=TIMEOUT) as client:
        uris = [str(r.uri) for r in (await client.list_resources()).resources]
        assert f"botport://conversations/{conversation_id}" in uris
        (content,) = (await client.read_resource(f"botport://conversations/{conversation_id}")).contents
        text = content.text  # type: ignore[union-attr]
        assert text.startswith("# my name is Ada\n")
        assert text.count("### You · ") == 2


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_in_process_a_cancelled_call_stops_the_turn(tmp_path: Path, mode: str) -> None:
    async with Client(botport_mcp(data_dir=tmp_path), mode=mode, read_timeout_seconds=TIMEOUT) as client:
        assert await _cancel_when_writing(client, "ask_slow", "take your time")
        (resource,) = (await client.list_resources()).resources
        for _ in range(50):  # the stopped turn stores its end a moment later
            text = (await client.read_resource(str(resource.uri))).contents[0].text  # type: ignore[union-attr]
            if "*(Stopped" in text:
                break
            await asyncio.sleep(0.1)
    assert "*(Stopped: the MCP client cancelled the call)*" in text


def test_only_json_rpc_goes_to_stdout(tmp_path: Path) -> None:
    """Demo mode logs a warning at start: it goes to stderr; stdout carries the protocol alone."""
    lines = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "ask_demo", "arguments": {"question": "hi"}},
        },
    ]
    params = botport_mcp(data_dir=tmp_path)
    with subprocess.Popen(
        [params.command, *params.args],
        env=params.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        for line in lines[:2]:
            process.stdin.write(json.dumps(line) + "\n")
        process.stdin.flush()
        answers = [json.loads(process.stdout.readline())]
        process.stdin.write(json.dumps(lines[2]) + "\n")
        process.stdin.flush()
        answers.append(json.loads(process.stdout.readline()))
        rest, stderr = process.communicate(timeout=TIMEOUT)  # closes stdin: the server ends
    assert process.returncode == 0, stderr
    assert rest == ""
    assert [a["id"] for a in answers] == [1, 2]
    assert answers[0]["result"]["serverInfo"]["name"] == "botport"
    assert "**Turn 1.**" in answers[1]["result"]["content"][0]["text"]
    assert "DEMO MODE" in stderr


async def test_the_bridge_forwards_to_a_running_botport_with_the_key(
    tmp_path: Path, mcp_server: McpServer
) -> None:
    params = botport_mcp("--url", mcp_server.url, data_dir=tmp_path, BOTPORT_API_KEY=mcp_server.key)
    notes: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append(progress)

    async with Client(params, read_timeout_seconds=TIMEOUT) as client:
        assert [tool.name for tool in (await client.list_tools()).tools] == DEMO_TOOLS
        answered = await client.call_tool("ask_slow", {"question": "hi"}, progress_callback=on_progress)
        assert answered.structured_content is not None and not answered.is_error
        assert len(notes) >= 3 and notes == sorted(notes)  # progress comes through
        conversation_id = answered.structured_content["conversation_id"]
        assert await latest_conversation(mcp_server) == conversation_id  # the key's conversation
        failing = await client.call_tool("ask_failing", {"question": "hi"})
        assert failing.is_error
        (content,) = (await client.read_resource(f"botport://conversations/{conversation_id}")).contents
        assert content.text.startswith("# hi\n")  # type: ignore[union-attr]

        # A cancel reaches the server: its turn stops and the Coze chat is cancelled.
        assert await _cancel_when_writing(client, "ask_slow", "/slow take your time")
        answer = await stored_answer(mcp_server, await latest_conversation(mcp_server))
    assert answer["status"] == "interrupted"
    assert answer["error"]["code"] == "client_cancelled"
    assert "/v3/chat/cancel" in mcp_server.upstream.paths
    assert len(await messages(mcp_server, conversation_id)) == 2


def test_the_bridge_says_when_the_key_is_refused(tmp_path: Path, mcp_server: McpServer) -> None:
    params = botport_mcp("--url", mcp_server.url, "--key", "bp_wrong", data_dir=tmp_path)
    done = subprocess.run(
        [params.command, *params.args],
        env=params.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert (
        f"botport: {mcp_server.endpoint} refused the API key: the API key is unknown or revoked"
        in done.stderr
    )


def test_the_bridge_needs_a_key(tmp_path: Path) -> None:
    params = botport_mcp("--url", "http://127.0.0.1:9", data_dir=tmp_path)
    done = subprocess.run(
        [sys.executable, *params.args],
        env=params.env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 2
    assert "--url needs a botport API key: --key or BOTPORT_API_KEY" in done.stderr
