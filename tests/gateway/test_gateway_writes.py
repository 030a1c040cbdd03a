"""A turn writes to the database a bounded number of times, however many deltas it streams; and demo
mode works end to end on its built-in emulator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gateway_helpers import gateway, only, recording, token_settings
from sqlalchemy import event

from botport.settings import Settings

UPDATE_MESSAGES = re.compile(r'^\s*UPDATE\s+"?messages"?\s', re.IGNORECASE)


async def test_writes_per_turn_do_not_grow_with_deltas(tmp_path: Path, database_url: str) -> None:
    async with gateway(token_settings(tmp_path, database_url=database_url), recording()) as gw:
        cid = await gw.conversation()
        engines = gw.app.state.services.db.sync_engines
        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        counts = {}
        for question in ("short", "/long and many deltas"):
            statements.clear()
            for engine in engines:
                event.listen(engine, "before_cursor_execute", record)
            try:
                frames = await gw.send(cid, question)
            finally:
                for engine in engines:
                    event.remove(engine, "before_cursor_execute", record)
            assert frames[-1].event == "turn.completed"
            # The emulator streams one delta per word (botport may join deltas that queue up).
            deltas = len(only(frames, "message.completed").data["content"].split())
            updates = [s for s in statements if UPDATE_MESSAGES.match(s)]
            counts[question] = (deltas, len(updates), len(statements))

    (short_deltas, short_updates, short_total), (long_deltas, long_updates, long_total) = counts.values()
    assert long_deltas > 100 and long_deltas > 3 * short_deltas
    # The chat id once, the outcome once: never one write per delta.
    assert 1 <= long_updates <= 3
    assert long_updates == short_updates
    assert long_total <= short_total < 40  # the first turn also sets the title and Coze ids


async def test_demo_mode_turns_end_to_end(tmp_path: Path) -> None:
    async with gateway(Settings(data_dir=tmp_path)) as gw:
        cid = await gw.conversation()
        frames = await gw.send(cid, "hello demo")
        assert frames[-1].event == "turn.completed"
        assert "hello demo" in only(frames, "message.completed").data["content"]

        weather = await gw.conversation("weather")
        frames = await gw.send(weather, "What is the weather in Rome?")
        assert only(frames, "turn.completed").data["status"] == "requires_action"

        failing = await gw.conversation("failing")
        frames = await gw.send(failing, "hi")
        assert frames[-1].event == "error" and frames[-1].data["logid"]
        assert (await gw.messages(failing))[-1]["status"] == "failed"
