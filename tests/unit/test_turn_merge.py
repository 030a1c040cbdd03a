"""A consumer that fell behind gets the queued deltas joined, in order, with nothing lost."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botport.chat.events import FollowUps, ReasoningDelta, TextDelta
from botport.chat.turn import Turn
from botport.store.records import ConversationRecord, MessageRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _turn() -> Turn:
    conversation = ConversationRecord("c", "web:x", "demo", "", None, NOW, NOW)
    answer = MessageRecord(
        "m",
        "c",
        "assistant",
        "",
        "",
        "streaming",
        None,
        None,
        None,
        None,
        None,
        (),
        None,
        None,
        None,
        NOW,
        NOW,
    )
    service: Any = None  # merging touches only the queue
    return Turn(service, conversation, None, answer, opener=lambda: None)  # type: ignore[arg-type,return-value]


def test_queued_deltas_of_one_kind_are_joined_and_the_next_kind_is_kept() -> None:
    turn = _turn()
    for item in (TextDelta("b"), TextDelta("c"), ReasoningDelta("r"), TextDelta("d")):
        turn._queue.put_nowait(item)
    merged, held = turn._merge_queued(TextDelta("a"))
    assert merged == TextDelta("abc")
    assert held == ReasoningDelta("r")
    assert turn._queue.get_nowait() == TextDelta("d")


def test_a_lone_delta_is_passed_as_it_is() -> None:
    turn = _turn()
    first = ReasoningDelta("x")
    merged, held = turn._merge_queued(first)
    assert merged is first and held is None
    turn._queue.put_nowait(FollowUps(("q",)))
    merged, held = turn._merge_queued(first)
    assert merged is first and held == FollowUps(("q",))
