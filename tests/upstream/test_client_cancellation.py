"""Turns cancelled at any moment (a Stop, a client gone, a shutdown, twice in a row) never leave a
connection to Coze taken for good. httpcore's pool can orphan a connection when a task is cancelled
inside it (encode/httpcore#1093); with the stream pool's wait unbounded, every later turn on that pool
would then wait forever. Driven on a real socket, with the pool at its smallest."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from botport.emulator.app import create_emulator_app
from botport.emulator.bots import SLOW_BOT_ID, EmulatedBot
from botport.emulator.faults import Faults
from botport.emulator.scripts import demo_script
from botport.errors import CozeAPIError
from botport.upstream.client import CozeClient
from botport.upstream.models import EnterMessage

pytestmark = pytest.mark.live

TOKEN = "pat_cancellation_test_token"
POOL = 16  # one pool of 16 connections
ROUNDS = 15  # before the fix, 15 rounds left an orphan in most runs (each ~0.6 s)


def _coze() -> Any:
    faults = Faults(first_delay=0.02, delta_delay=0.005)
    bot = EmulatedBot(SLOW_BOT_ID, "Slow", "a slow bot", "", demo_script, faults)
    return create_emulator_app(tokens=[TOKEN], bots=[bot])


async def _read_turn(client: CozeClient) -> int:
    async with client.stream_chat(
        bot_id=SLOW_BOT_ID, user_id="u", messages=[EnterMessage.user_text("a long answer please")]
    ) as stream:
        return sum(1 for _ in [event async for event in stream])


async def _churn(turn: Callable[[], Any], rounds: int, seed: int) -> None:
    """Rounds of 3×POOL turns, 2×POOL cancels landing at random moments (half of them twice)."""
    chance = random.Random(seed)
    for _ in range(rounds):
        tasks = [asyncio.ensure_future(turn()) for _ in range(3 * POOL)]
        for _ in range(2 * POOL):
            await asyncio.sleep(chance.uniform(0, 0.01))
            victim = chance.choice(tasks)
            victim.cancel()
            if chance.random() < 0.5:  # a second cancel while the first is being handled
                await asyncio.sleep(chance.uniform(0, 0.002))
                victim.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _orphans(client: CozeClient) -> list[str]:
    """Connections httpcore's pools hold busy with no turn running: each is kept for good. (httpcore's
    own state: what a user sees of it is the wait below, once enough have piled up.)"""
    assert client._streams is not None
    pools = [http._transport._pool for http in client._streams._clients if http is not None]  # type: ignore[attr-defined]
    held = [repr(request.connection) for pool in pools for request in pool._requests]
    busy = [repr(c) for pool in pools for c in pool.connections if not (c.is_idle() or c.is_closed())]
    return held + busy


async def _every_connection_still_serves(client: CozeClient) -> None:
    await asyncio.sleep(0.5)  # closes left to finish on their own are done
    assert _orphans(client) == []
    async with asyncio.timeout(20):  # an orphaned connection: one of these would wait for ever
        counts = await asyncio.gather(*(_read_turn(client) for _ in range(POOL)))
    assert all(count > 3 for count in counts)


async def test_streams_cancelled_at_any_moment_leave_every_connection_usable(
    live_server: Callable[..., Any],
) -> None:
    coze = live_server(_coze())
    client = CozeClient(token=SecretStr(TOKEN), base_url=coze.url, max_connections=POOL)
    try:
        await _churn(lambda: _read_turn(client), rounds=ROUNDS, seed=9)
        await _every_connection_still_serves(client)
    finally:
        await client.aclose()


async def test_refused_streams_cancelled_at_any_moment_leave_every_connection_usable(
    live_server: Callable[..., Any],
) -> None:
    """The same while Coze refuses each stream (a wrong token: its error body is read, then closed)."""
    coze = live_server(_coze())
    refused = CozeClient(token=SecretStr("pat_wrong"), base_url=coze.url, max_connections=POOL)
    try:

        async def refused_turn() -> None:
            with pytest.raises(CozeAPIError):
                await _read_turn(refused)

        await _churn(refused_turn, rounds=ROUNDS, seed=3)
        # The same client, now with the right token: the pool it refused on serves every stream.
        refused._token = SecretStr(TOKEN)
        await _every_connection_still_serves(refused)
    finally:
        await refused.aclose()
