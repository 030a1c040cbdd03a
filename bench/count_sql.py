"""Count the SQL statements and write transactions one streamed turn costs (not a test).

Runs botport in-process in token mode against the emulator (no delays) and sends N turns, each in a
new conversation (as bench_gateway.py does) or all in one conversation, then prints the statements
per turn by kind. Run it against another checkout with PYTHONPATH=that/src to compare.

    python bench/count_sql.py --turns 50
    python bench/count_sql.py --turns 200 --concurrency 100   # what group commit makes of it
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import tempfile
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import event

from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport
from botport.emulator.app import create_emulator_app
from botport.settings import BotConfig, Settings

TOKEN = "count-sql-token"
DEMO_BOT_ID = "7000000000000000001"


async def main(turns: int, same_conversation: bool, verbose: bool, concurrency: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="botport-sql-"))
    emulator = create_emulator_app(tokens=[TOKEN])
    settings = Settings(
        coze_token=SecretStr(TOKEN),
        coze_base_url="http://coze.test",
        bots=[BotConfig(slug="demo", bot_id=DEMO_BOT_ID)],
        data_dir=data_dir,
        secret_key=SecretStr("count-sql"),
    )
    app = create_app(settings, upstream_transport=StreamingASGITransport(emulator))
    counts: collections.Counter[str] = collections.Counter()
    full: collections.Counter[str] = collections.Counter()
    async with app.router.lifespan_context(app), emulator.router.lifespan_context(emulator):
        db = app.state.services.db
        # An older checkout has one engine; group commit adds the writer's.
        engines = getattr(db, "sync_engines", [db.engine.sync_engine])

        def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counts[statement.split(None, 1)[0].upper()] += 1
            full[" ".join(statement.split())[:150]] += 1

        for engine in engines:
            event.listen(engine, "before_cursor_execute", _count)

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://bp") as client:
            shared = None
            if same_conversation:
                shared = (await client.post("/api/conversations", json={})).json()["id"]
            gate = asyncio.Semaphore(1 if same_conversation else concurrency)

            async def turn() -> None:
                async with gate:
                    conversation = shared or (await client.post("/api/conversations", json={})).json()["id"]
                    response = await client.post(
                        f"/api/conversations/{conversation}/messages",
                        json={"content": "hello", "stream": True},
                    )
                    assert b"turn.completed" in response.content, response.content[-300:]

            await asyncio.gather(*(turn() for _ in range(turns)))
        await asyncio.sleep(0.1)
        writer = getattr(db, "writer", None)
    total = sum(counts.values())
    print(f"{turns} turns, {'one conversation' if same_conversation else 'a conversation each'}:")
    print(f"  statements per turn: {total / turns:.1f}")
    for kind, n in counts.most_common():
        print(f"    {kind:<8} {n / turns:.1f}")
    print(f"  write transactions per turn: {full['BEGIN IMMEDIATE'] / turns:.2f}")
    if writer is not None and writer.held:
        held = sorted(writer.held)
        p50, p99 = held[len(held) // 2], held[min(len(held) - 1, round(0.99 * (len(held) - 1)))]
        print(
            f"  group commit: {writer.ops} writes in {writer.batches} transactions "
            f"({writer.ops / writer.batches:.1f} per transaction); each held SQLite "
            f"{p50 * 1000:.2f} ms p50, {p99 * 1000:.2f} ms p99, {max(held) * 1000:.2f} ms max"
        )
    if verbose:
        for statement, n in full.most_common():
            print(f"  {n / turns:5.1f}  {statement}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--same-conversation", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="also list each statement")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="turns at a time (each in its own conversation)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.same_conversation, args.verbose, args.concurrency))
