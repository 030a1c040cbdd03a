"""Coze events -> domain events: pick messages by type, several answers, follow-ups, tool calls."""

from __future__ import annotations

import json
from typing import Any

from botport.chat.events import MessageCompleted, ReasoningDelta, TextDelta, ToolCallsRequired
from botport.chat.translate import TurnState
from botport.sse import ServerSentEvent
from botport.upstream.events import ChatEventType
from botport.upstream.stream import decode_chat_event


def ev(name: str, **data: Any) -> Any:
    return decode_chat_event(ServerSentEvent(event=name, data=json.dumps(data)))


def msg(kind: str, content: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "id": "m",
        "conversation_id": "c1",
        "chat_id": "ch1",
        "role": "assistant",
        "type": kind,
        "content": content,
        "content_type": "text",
        **extra,
    }


def chat(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": "ch1", "conversation_id": "c1", "bot_id": "b", "status": status, **extra}


def run(events: list[Any]) -> tuple[TurnState, list[Any]]:
    state = TurnState()
    out: list[Any] = []
    for event in events:
        out.extend(state.apply(event))
    return state, out


def test_text_turn_with_reasoning_follow_ups_and_usage() -> None:
    state, out = run(
        [
            ev("conversation.chat.created", **chat("created")),
            ev("conversation.message.delta", **msg("answer", "", reasoning_content="hmm ")),
            ev("conversation.message.delta", **msg("answer", "Hello ")),
            ev("conversation.message.delta", **msg("answer", "world")),
            # A follow-up listed before the answer is completed must not be taken as the answer.
            ev("conversation.message.completed", **msg("follow_up", "Ask more?")),
            ev("conversation.message.completed", **msg("answer", "Hello world", reasoning_content="hmm ")),
            ev("conversation.message.completed", **msg("verbose", '{"msg_type":"generate_answer_finish"}')),
            ev(
                "conversation.chat.completed",
                **chat("completed", usage={"token_count": 7, "output_count": 3, "input_count": 4}),
            ),
        ]
    )
    assert [type(e) for e in out] == [ReasoningDelta, TextDelta, TextDelta, MessageCompleted]
    assert state.content == "Hello world"
    assert state.reasoning == "hmm "
    assert state.follow_ups == ["Ask more?"]
    assert state.chat_id == "ch1" and state.coze_conversation_id == "c1"
    assert state.finished and not state.requires_action
    assert state.usage is not None and state.usage.total_tokens == 7 and state.usage.input_tokens == 4


def test_two_answers_in_one_turn_are_kept_apart() -> None:
    state, out = run(
        [
            ev("conversation.message.delta", **msg("answer", "One")),
            ev("conversation.message.completed", **msg("answer", "One")),
            ev("conversation.message.delta", **msg("answer", "Two")),
            ev("conversation.message.completed", **msg("answer", "Two")),
        ]
    )
    assert state.content == "One\n\nTwo"
    assert "".join(e.text for e in out if isinstance(e, TextDelta)) == "One\n\nTwo"
    assert [e.content for e in out if isinstance(e, MessageCompleted)] == ["One", "One\n\nTwo"]


def test_completed_message_fixes_a_lost_delta() -> None:
    state, _ = run(
        [
            ev("conversation.message.delta", **msg("answer", "Hel")),
            ev("conversation.message.completed", **msg("answer", "Hello")),
        ]
    )
    assert state.content == "Hello"


def test_requires_action_gives_tool_calls() -> None:
    action = {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {
            "tool_calls": [
                {
                    "id": "call1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ]
        },
    }
    state, out = run(
        [
            ev("conversation.message.completed", **msg("function_call", '{"name":"get_weather"}')),
            ev("conversation.chat.requires_action", **chat("requires_action", required_action=action)),
        ]
    )
    assert state.requires_action and state.finished
    (required,) = out
    assert isinstance(required, ToolCallsRequired)
    assert required.tool_calls[0].name == "get_weather"
    assert json.loads(required.tool_calls[0].arguments) == {"city": "Paris"}
    assert state.content == ""  # a function_call message is not answer text


def test_canceled_and_unknown_events() -> None:
    state, out = run(
        [ev("conversation.something.new", x=1), ev("conversation.chat.canceled", **chat("canceled"))]
    )
    assert out == [] and state.canceled and not state.finished
    assert ev("conversation.something.new").type is ChatEventType.UNKNOWN


def test_the_answers_coze_message_id_is_its_last_answer_message() -> None:
    """A rating of the answer goes to this Coze message: answers only, the last of several."""
    state, _ = run(
        [
            ev("conversation.message.completed", **msg("answer", "first", id="a1")),
            ev("conversation.message.completed", **msg("follow_up", "more?", id="f1")),
            ev("conversation.message.completed", **msg("answer", "second", id="a2")),
            ev("conversation.message.completed", **msg("verbose", "{}", id="v1")),
        ]
    )
    assert state.answer_message_id == "a2"
    assert run([ev("conversation.message.delta", **msg("answer", "x", id="a3"))])[0].answer_message_id is None
