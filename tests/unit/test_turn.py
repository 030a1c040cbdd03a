"""The running turn on its own: joining queued deltas, and a Stop that comes before the answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botport.chat.events import FollowUps, ReasoningDelta, TextDelta
from botport.chat.turn import Turn
from botport.store.records import ConversationRecord, MessageRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _records() -> tuple[ConversationRecord, MessageRecord]:
    conversation = ConversationRecord("c", "web:x", "demo", "", None, NOW, NOW)
    empty = (None,) * 5  # tokens, upstream chat id, logid
    answer = MessageRecord("m", "c", "assistant", "", "", "streaming", *empty, (), None, None, None, NOW, NOW)
    return conversation, answer


def _turn() -> Turn:
    service: Any = None  # merging touches only the queue
    conversation, answer = _records()
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


class _Host:
    """What a turn needs from the service, recording the outcome it stores."""

    turn_timeout = 5.0

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str | None]] = []

    async def remember_upstream_ids(self, turn: Turn) -> None:
        raise AssertionError("no upstream chat was started")

    async def store_outcome(self, turn: Turn, *, status: str, error: Any = None) -> None:
        self.outcomes.append((status, error.code if error else None))

    async def cancel_upstream(self, turn: Turn) -> None:
        pass


async def test_stop_before_the_answer_starts_ends_the_turn_as_interrupted() -> None:
    host = _Host()
    conversation, answer = _records()

    def never_opened() -> Any:
        raise AssertionError("the upstream must not be asked")

    turn = Turn(host, conversation, None, answer, opener=never_opened)  # type: ignore[arg-type]
    turn.cancel()
    events = [event async for event in turn.events()]
    assert [type(e).__name__ for e in events] == ["TurnStarted"]
    assert host.outcomes == [("interrupted", "cancelled")]
