"""/mcp over Streamable HTTP with the MCP SDK's own client: the tools, a call, a follow-up that keeps
the bot's context, progress, and failures as tool errors (never protocol errors)."""

from __future__ import annotations

import pytest
from mcp_helpers import BOTS, McpServer, connect, latest_conversation, messages

from botport.emulator.scripts import DEMO_FOLLOW_UPS
from image_files import data_url, png

pytestmark = pytest.mark.live


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_each_bot_is_a_tool_with_its_name_description_and_schemas(
    mcp_server: McpServer, mode: str
) -> None:
    async with connect(mcp_server, mode=mode) as client:
        assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert list(tools) == [f"ask_{slug}" for slug in BOTS]
    for slug, (_, name, description, _) in BOTS.items():
        tool = tools[f"ask_{slug}"]
        assert tool.title == name
        assert tool.description is not None
        assert name in tool.description and description in tool.description
        assert "conversation_id" in tool.description  # how to follow up
        schema = tool.input_schema
        assert schema["required"] == ["question"]
        assert set(schema["properties"]) == {"question", "conversation_id", "images"}
        assert schema["properties"]["question"]["type"] == "string"
        assert tool.output_schema is not None
        assert set(tool.output_schema["required"]) == {"answer", "conversation_id", "follow_ups"}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_call_answers_and_a_follow_up_keeps_the_context(mcp_server: McpServer, mode: str) -> None:
    async with connect(mcp_server, mode=mode) as client:
        first = await client.call_tool("ask_demo", {"question": "my name is Ada"})
        assert not first.is_error
        answer = first.structured_content
        assert answer is not None
        assert answer["answer"].startswith("**Turn 1.** You said:")
        assert answer["follow_ups"] == list(DEMO_FOLLOW_UPS)
        conversation_id = answer["conversation_id"]
        # The text says it all too, for models that read only the text.
        (text,) = [block.text for block in first.content if block.type == "text"]
        assert text.startswith(answer["answer"])
        assert f"conversation_id: {conversation_id}" in text

        second = await client.call_tool(
            "ask_demo", {"question": "what is my name?", "conversation_id": conversation_id}
        )
        assert not second.is_error
        follow_up = second.structured_content
        assert follow_up is not None
        assert follow_up["conversation_id"] == conversation_id
        assert follow_up["answer"].startswith("**Turn 2.**")
        assert "Before that you asked: *my name is Ada*" in follow_up["answer"]

    # A botport turn like any other: stored, in the key's conversations.
    assert await latest_conversation(mcp_server) == conversation_id
    stored = await messages(mcp_server, conversation_id)
    assert [(m["role"], m["status"]) for m in stored] == [
        ("user", "completed"),
        ("assistant", "completed"),
    ] * 2
    assert stored[-1]["content"] == follow_up["answer"]


async def test_progress_arrives_while_the_answer_streams(mcp_server: McpServer) -> None:
    notes: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))

    async with connect(mcp_server) as client:
        result = await client.call_tool("ask_slow", {"question": "tell me"}, progress_callback=on_progress)
    assert not result.is_error
    assert len(notes) >= 3, notes  # the start, then while thoughts and answer stream (~2 s)
    values = [progress for progress, _, _ in notes]
    assert values == sorted(set(values)), "progress must increase with every notification"
    assert notes[0][2] == "Asked Slow demo; waiting for the answer"
    assert any(message and message.startswith("Writing the answer: …") for _, _, message in notes)


async def test_a_failing_bot_is_a_tool_error_with_a_message_to_relay(mcp_server: McpServer) -> None:
    async with connect(mcp_server) as client:
        result = await client.call_tool("ask_failing", {"question": "hi"})
    assert result.is_error
    assert result.structured_content is None
    (text,) = [block.text for block in result.content if block.type == "text"]
    assert text.startswith("Failing demo could not answer: ")
    assert "model service is unavailable" in text and "Tell the user" in text
    assert "The partial answer:" in text  # what it wrote before failing is kept
    conversation_id = await latest_conversation(mcp_server)
    assert f"conversation_id: {conversation_id}" in text
    assert "Coze log id" in text
    assert (await messages(mcp_server, conversation_id))[-1]["status"] == "failed"


async def test_client_side_tools_unknown_conversations_and_empty_questions_are_tool_errors(
    mcp_server: McpServer,
) -> None:
    async with connect(mcp_server) as client:
        weather = await client.call_tool("ask_weather", {"question": "weather in Paris?"})
        unknown = await client.call_tool("ask_demo", {"question": "hi", "conversation_id": "0" * 32})
        empty = await client.call_tool("ask_demo", {"question": "   "})
        first = await client.call_tool("ask_demo", {"question": "hi"})
        assert first.structured_content is not None
        other_bot = await client.call_tool(
            "ask_slow", {"question": "hi", "conversation_id": first.structured_content["conversation_id"]}
        )
    texts = {}
    for name, result in {"weather": weather, "unknown": unknown, "empty": empty, "other": other_bot}.items():
        assert result.is_error, name
        texts[name] = result.content[0].text  # type: ignore[union-attr]
    assert texts["weather"].startswith("Weather asked its caller to run get_weather, which botport's MCP")
    assert texts["unknown"].startswith(f"There is no conversation '{'0' * 32}' for this caller.")
    assert "Leave conversation_id out" in texts["unknown"]
    assert texts["empty"] == "The tool was called wrongly: the question is empty; ask the bot something."
    assert "with another bot (demo): continue it with the tool ask_demo" in texts["other"]


async def test_a_call_with_an_image_reaches_the_bot(mcp_server: McpServer) -> None:
    url = "https://pictures.example.net/chart.webp"
    async with connect(mcp_server) as client:
        result = await client.call_tool(
            "ask_demo", {"question": "what do these show?", "images": [data_url(png(32, 16)), url]}
        )
        assert not result.is_error
        answer = result.structured_content
        assert answer is not None
        assert "You attached 2 files: image.png (image/png" in answer["answer"]
        assert "32×16" in answer["answer"] and url in answer["answer"]
        # The uploaded image is kept with the question, for the key that asked.
        stored = await messages(mcp_server, answer["conversation_id"])
        assert [a["name"] for a in stored[0]["attachments"]] == ["image.png"]
        # ...and the conversation's resource names it.
        (content,) = (
            await client.read_resource(f"botport://conversations/{answer['conversation_id']}")
        ).contents
        assert "image.png (image/png, 32×16" in getattr(content, "text", "")

        refused = await client.call_tool("ask_demo", {"question": "and this?", "images": ["ftp://x/y.png"]})
        assert refused.is_error
        (text,) = [block.text for block in refused.content if block.type == "text"]
        assert "The question was not asked" in text and "https" in text
