"""The answer rendered while it streams (`X-Botport-Render: html`): ``text.rendered`` snapshots, sanitised,
at a bounded rate, before the end; other clients see no change; a resumed stream gets a fresh one."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gateway_helpers import (
    Frame,
    emulator,
    events_of,
    eventually,
    gateway,
    only,
    parse_frames,
    recording,
    token_settings,
)

from botport.api.live_render import Incremental, Snapshot, with_snapshots
from botport.chat.eventlog import Entry, Keepalive
from botport.chat.events import MessageCompleted, TextDelta, TurnStarted
from botport.emulator.faults import Faults
from botport.emulator.plan import TurnContext
from botport.emulator.scripts import _long_answer
from botport.render import render_markdown
from botport.store import repository as repo

ATTACK = (
    "**bold** <script>alert(1)</script> <img src=x onerror=alert(2)> "
    "[click](javascript:alert(3))\n\n| a | b |\n|---|---|\n| 1 | 2 |"
)
RENDER = {"X-Botport-Render": "html"}

SAFE_TAGS = {
    "p",
    "strong",
    "blockquote",
    "br",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "code",
    "em",
}


def _snapshots(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f.event == "text.rendered"]


async def test_snapshots_arrive_before_the_end_and_are_sanitised(tmp_path: Path) -> None:
    transport = recording(emulator({"demo": Faults(delta_delay=0.02)}))
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        frames = await gw.send(cid, ATTACK, headers=RENDER)
    names = events_of(frames)
    snapshots = _snapshots(frames)
    assert snapshots, names
    completed_at = names.index("message.completed")
    assert names.index("text.rendered") < completed_at
    assert all(f.id is None for f in snapshots)  # no resume number points at a snapshot
    for snap in snapshots:
        html = snap.data["html"]
        tags = re.findall(r"<([a-z0-9]+)([^>]*)>", html)
        assert {name for name, _ in tags} <= SAFE_TAGS, html
        assert not any(re.search(r"\son\w+=|javascript:", attrs) for _, attrs in tags), html
        assert isinstance(snap.data["seq"], int)
    # The last snapshot before the end shows rendered markdown (bold, the table), not raw markup.
    before_end = [f for f in frames[:completed_at] if f.event == "text.rendered"]
    assert "<strong>" in before_end[-1].data["html"]
    # The final render is the same function of the same text: no re-layout at the end.
    final = only(frames, "message.completed").data
    assert final["html"] == render_markdown(final["content"])
    # Each snapshot covers exactly the deltas up to its number.
    for snap in before_end:
        text = "".join(
            f.data["text"] for f in frames if f.event == "text.delta" and (f.id or 0) <= snap.data["seq"]
        )
        assert snap.data["html"] == render_markdown(text)


async def test_other_clients_see_no_snapshots(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        frames = await gw.send(cid, "**plain client**")
        assert "text.rendered" not in events_of(frames)
        message_id = frames[0].data["message_id"]
        response = await gw.client.get(f"/api/messages/{message_id}/events", params={"after": 2})
        assert "text.rendered" not in events_of(parse_frames(response.content))


async def test_a_resumed_stream_gets_a_fresh_snapshot(tmp_path: Path) -> None:
    transport = recording(emulator({"demo": Faults(delta_delay=0.03)}))
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        sending = asyncio.ensure_future(gw.send(cid, "**resume me** please"))
        running = await eventually(lambda: gw.app.state.services.chat.logs.get(_running(gw, cid)))
        await eventually(lambda: sum(isinstance(e, TextDelta) for e in running.events) >= 8)
        after = len(running.events)
        response = await gw.client.get(
            f"/api/messages/{running.message_id}/events", params={"after": after}, headers=RENDER
        )
        await sending
    events = running.events
    resumed = parse_frames(response.content)
    assert all(f.id > after for f in resumed if f.id is not None)  # nothing up to `after` again
    snapshots = _snapshots(resumed)
    assert snapshots
    covered = snapshots[0].data["seq"]
    assert covered >= after  # the text so far (more when the first delta past `after` was joined)
    before = "".join(e.text for e in events[:covered] if isinstance(e, TextDelta))
    assert snapshots[0].data["html"] == render_markdown(before)
    assert "<strong>resume me</strong>" in snapshots[0].data["html"]
    first_delta = next(f for f in resumed if f.event == "text.delta")
    assert first_delta.id is not None and first_delta.id > covered
    rest = "".join(f.data["text"] for f in resumed if f.event == "text.delta")
    whole = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert before + rest == whole


async def test_resuming_an_answer_a_crash_ended_gets_its_end(tmp_path: Path) -> None:
    """A crash left the answer resolved as failed with no last sequence number (the log died with its
    instance). A rendering client resuming after what it saw still gets the end, numbered past it."""
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "first")
        db = gw.app.state.services.db
        async with db.connect() as conn:
            lost = await repo.add_message(
                conn,
                conversation_id=cid,
                role="assistant",
                content="half an ans",
                status="failed",
                error_code="turn_lost",
                error_message="The server stopped before the answer was complete.",
            )
        for headers in (RENDER, {}):
            response = await gw.client.get(
                f"/api/messages/{lost.id}/events", params={"after": 7}, headers=headers
            )
            frames = parse_frames(response.content)
            assert events_of(frames)[-2:] == ["message.completed", "error"], (headers, events_of(frames))
            assert frames[-1].id == 8 and frames[-1].data["code"] == "turn_lost"
            assert frames[-2].data["content"] == "half an ans"


def _running(gw: Any, cid: str) -> str | None:
    for turn in gw.app.state.services.chat.running_turns():
        if turn.conversation.id == cid:
            return str(turn.answer.id)
    return None


async def _fast_stream(count: int, pause: float) -> AsyncIterator[Entry | Keepalive]:
    yield 1, TurnStarted("c", "u", "m", "demo")
    for i in range(count):
        await asyncio.sleep(pause)
        yield i + 2, TextDelta(f"word{i} ")
    yield count + 2, MessageCompleted("".join(f"word{i} " for i in range(count)))


async def test_snapshots_are_rate_bounded_and_deltas_all_pass() -> None:
    renders: list[int] = []

    def render(text: str) -> str:
        renders.append(len(text))
        return render_markdown(text)

    started = asyncio.get_running_loop().time()
    items = [item async for item in with_snapshots(_fast_stream(300, 0.002), interval=0.1, render=render)]
    elapsed = asyncio.get_running_loop().time() - started
    entries = [item for item in items if isinstance(item, tuple)]
    assert [seq for seq, _ in entries] == list(range(1, 303))  # every event, in order, none held back
    snapshots = [item for item in items if isinstance(item, Snapshot)]
    assert snapshots and len(renders) <= elapsed / 0.1 + 2
    assert all(isinstance(item[1], MessageCompleted) for item in items[-1:] if isinstance(item, tuple))


def test_incremental_snapshots_equal_whole_renders() -> None:
    """Finished blocks are rendered once, yet every snapshot equals a render of the whole text so far
    (so the final render changes nothing on the page), fences with blank lines included."""
    ctx = TurnContext("/long **x** <b>", 3, ("before",))
    code = "```python\nx = 1\n\n\ny = 2\n```\n\nafter the code\n\n- a\n\n- b\n\nend"
    for text in (_long_answer(ctx, ctx.question), code):
        words = text.split(" ")
        renderer = Incremental()
        for end in range(1, len(words) + 1, 3):
            part = " ".join(words[:end])
            assert renderer(part) == render_markdown(part), part
        assert renderer(text) == render_markdown(text)
