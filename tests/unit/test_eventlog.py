"""A turn's event log on its own: numbering, joining deltas that wait, following from any number."""

from __future__ import annotations

import asyncio

import pytest

from botport.chat import codec
from botport.chat.eventlog import KEEPALIVE, EventLogs, TurnLog, joined
from botport.chat.events import (
    FollowUps,
    MessageCompleted,
    ReasoningDelta,
    TextDelta,
    ToolCallRequest,
    ToolCallsRequired,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    Usage,
)

STARTED = TurnStarted("c", "q", "m", "demo")
DONE = TurnCompleted("m", "completed", Usage(1, 2, 3))


def test_deltas_of_one_kind_that_wait_are_joined_under_the_last_number() -> None:
    events = [STARTED, TextDelta("a"), TextDelta("b"), ReasoningDelta("r"), TextDelta("c"), DONE]
    assert joined(events, 1, len(events)) == (3, TextDelta("ab"))
    assert joined(events, 3, len(events)) == (4, ReasoningDelta("r"))
    assert joined(events, 1, 2) == (2, TextDelta("a"))  # only up to the end given
    assert joined(events, 0, len(events)) == (1, STARTED)


async def _collect(log: TurnLog, after: int) -> list[tuple[int, object]]:
    return [item async for item in log.follow(after) if item is not KEEPALIVE]  # type: ignore[misc]


async def test_following_from_every_number_gives_exactly_the_rest() -> None:
    events = [STARTED, ReasoningDelta("hm"), TextDelta("Hel"), TextDelta("lo"), FollowUps(("more?",)), DONE]
    log = TurnLog("m")
    for event in events:
        log.append(event)
    for after in range(len(events) + 1):
        got = await _collect(log, after)
        text = "".join(e.text for _, e in got if isinstance(e, TextDelta))
        assert text == "".join(e.text for e in events[after:] if isinstance(e, TextDelta))
        # the numbers only grow, end at the last event, and each one is past `after`
        seqs = [seq for seq, _ in got]
        assert seqs == sorted(seqs) and all(seq > after for seq in seqs)
        if after < len(events):
            assert got[-1] == (len(events), DONE)
        else:
            assert got == []


async def test_a_follower_waits_for_new_events_and_ends_with_the_turn() -> None:
    log = TurnLog("m")
    log.append(STARTED)
    seen: list[object] = []

    async def follow() -> None:
        async for item in log.follow(0, keepalive=0.05):
            seen.append(item)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.12)
    assert KEEPALIVE in seen  # quiet spells are said
    log.append(TextDelta("x"))
    log.append(DONE)
    await asyncio.wait_for(task, 1)
    assert [item for item in seen if item is not KEEPALIVE] == [(1, STARTED), (2, TextDelta("x")), (3, DONE)]
    with pytest.raises(RuntimeError):
        log.append(TextDelta("late"))


async def test_a_finished_log_is_kept_for_its_retention_then_dropped() -> None:
    logs = EventLogs(retention=0.05)
    log = logs.open("m")
    for event in (STARTED, DONE):
        logs.appended(log, log.append(event), event)
    assert logs.get("m") is log
    await asyncio.sleep(0.1)
    assert logs.get("m") is None


@pytest.mark.parametrize(
    "event",
    [
        STARTED,
        TextDelta("a\u2028b 你好"),
        ReasoningDelta("r"),
        MessageCompleted("all", "why"),
        MessageCompleted("partial", status="failed"),
        FollowUps(("a", "b")),
        ToolCallsRequired("chat", (ToolCallRequest("1", "get_weather", '{"city":"Paris"}'),)),
        DONE,
        TurnFailed("m", "failed", "chat_failed", "boom", 502, 5000, "log-1", retryable=False),
    ],
)
def test_events_survive_the_codec(event: object) -> None:
    assert codec.decode(codec.encode(event)) == event  # type: ignore[arg-type]


def test_a_completed_message_is_encoded_as_before_its_status_field() -> None:
    """Instances share Redis logs during a rolling upgrade: an older one must still read the entry."""
    assert codec.encode(MessageCompleted("all", "why")) == b'["message",{"content":"all","reasoning":"why"}]'
