"""The recorded emulator streams in tests/data/emulator_*.sse (decoder test data for the upstream
client) must still match what the emulator sends: the same event-name sequence, runs of deltas
collapsed (their count follows the text)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from emulator_helpers import FAST, collapse, event_names, parse_sse, stream_chat

from botport.emulator.bots import DEMO_BOT_ID, FAILING_BOT_ID, TOOL_BOT_ID

pytestmark = pytest.mark.live

DATA = Path(__file__).parent.parent / "data"

RECORDINGS = [
    ("emulator_demo_turn.sse", DEMO_BOT_ID, "Hello, who are you?"),
    ("emulator_tool_requires_action.sse", TOOL_BOT_ID, "What is the weather in Paris?"),
    ("emulator_failing_turn.sse", FAILING_BOT_ID, "Will this work?"),
]


@pytest.mark.parametrize(("file_name", "bot_id", "question"), RECORDINGS)
def test_recording_matches_the_emulator(
    http: httpx.Client, file_name: str, bot_id: str, question: str
) -> None:
    recorded = (DATA / file_name).read_bytes()
    fresh = stream_chat(http, bot_id, question, user_id="recorder", headers=FAST).content
    assert collapse(event_names(fresh)) == collapse(event_names(recorded))
    parse_sse(recorded)  # still well-formed frames


def test_recordings_show_the_expected_turns() -> None:
    demo = collapse(event_names((DATA / "emulator_demo_turn.sse").read_bytes()))
    assert demo == [
        "conversation.chat.created",
        "conversation.chat.in_progress",
        "conversation.message.delta",
        "conversation.message.completed",
        "conversation.chat.completed",
        "done",
    ]
    tool = event_names((DATA / "emulator_tool_requires_action.sse").read_bytes())
    assert tool[-2:] == ["conversation.chat.requires_action", "done"]
    failing = event_names((DATA / "emulator_failing_turn.sse").read_bytes())
    assert failing[-2:] == ["conversation.chat.failed", "done"]
