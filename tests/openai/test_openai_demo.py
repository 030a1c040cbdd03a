"""Demo mode, as a user starts it (no token, the built-in emulator with its demo pace), with a key
made by the CLI: the official async client streams, keeps context, runs a tool call; a busy
conversation is a 409."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from openai_helpers import Server
from typer.testing import CliRunner

from botport.cli import app as cli

pytestmark = pytest.mark.live


@pytest.fixture
def cli_key(demo_server: Server, tmp_path: Path) -> str:
    """``botport keys create`` on the server's data directory (a sync fixture: the CLI runs its own loop)."""
    result = CliRunner().invoke(cli, ["keys", "create", "cli key"], env={"BOTPORT_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


async def _stream_text(client: openai.AsyncOpenAI, **kwargs: Any) -> tuple[str, str, list[Any]]:
    raw = await client.chat.completions.with_raw_response.create(stream=True, **kwargs)
    chunks = [chunk async for chunk in raw.parse()]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, raw.headers["x-botport-conversation-id"], chunks


async def test_demo_mode_context_and_tools(demo_server: Server, cli_key: str) -> None:
    async with openai.AsyncOpenAI(
        base_url=f"{demo_server.url}/v1", api_key=cli_key, max_retries=0, timeout=60
    ) as client:
        history: list[dict[str, Any]] = [{"role": "user", "content": "Where am I?"}]
        first, conversation_id, chunks = await _stream_text(client, model="demo", messages=history)
        assert "**Turn 1.**" in first
        assert any(
            (c.choices[0].delta.model_extra or {}).get("reasoning_content") for c in chunks if c.choices
        )
        history += [{"role": "assistant", "content": first}, {"role": "user", "content": "And now?"}]
        second, again, _ = await _stream_text(client, model="demo", messages=history)
        assert again == conversation_id
        assert "**Turn 2.**" in second and "Before that you asked: *Where am I?*" in second

        question = {"role": "user", "content": "Weather in Oslo?"}
        _, _, chunks = await _stream_text(client, model="weather", messages=[question])
        delta = next(tc for c in chunks for tc in (c.choices[0].delta.tool_calls or []))
        assert delta.function is not None and json.loads(delta.function.arguments or "") == {"city": "Oslo"}
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
        call = {"id": delta.id, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        answer = await client.chat.completions.create(
            model="weather",
            messages=[
                question,
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": delta.id, "content": "snow, -3 °C"},
            ],  # type: ignore[list-item]
        )
    assert answer.choices[0].message.content == "The weather in **Oslo**: snow, -3 °C"


async def test_busy_conversation_is_409(demo_server: Server) -> None:
    async with demo_server.async_client() as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="slow", messages=[{"role": "user", "content": "take your time"}], stream=True
        )
        conversation_id = raw.headers["x-botport-conversation-id"]
        stream = raw.parse()
        first = await anext(aiter(stream))  # the turn is running (the slow bot waits a second)
        assert first.choices[0].delta.role == "assistant"
        with pytest.raises(openai.ConflictError) as info:
            await client.chat.completions.create(
                model="slow",
                messages=[{"role": "user", "content": "me too"}],
                extra_headers={"X-Botport-Conversation-Id": conversation_id},
            )
        assert info.value.status_code == 409
        assert info.value.code == "turn_in_progress"
        await stream.close()  # the client goes away; the partial answer is kept as interrupted
