"""Streams take connections from small pools, the first with room first (botport.upstream.pools)."""

from __future__ import annotations

import httpx

from botport.upstream.pools import SHARD, StreamPools


async def test_streams_fill_the_first_pools_and_pools_are_made_when_first_needed() -> None:
    made: list[int] = []

    def make(size: int) -> httpx.AsyncClient:
        made.append(size)
        return httpx.AsyncClient(limits=httpx.Limits(max_connections=size))

    pools = StreamPools(make, SHARD * 2 + 5)
    taken = [pools.take() for _ in range(SHARD + 1)]
    assert [index for index, _ in taken] == [0] * SHARD + [1]
    assert made == [SHARD, SHARD]  # the third pool (5 connections) is not made yet
    assert len({id(client) for _, client in taken}) == 2
    pools.give_back(0)
    assert pools.take()[0] == 0  # a freed place in the first pool is taken before the second's
    for _ in range(SHARD - 1 + 5):
        pools.take()
    assert made == [SHARD, SHARD, 5]
    await pools.aclose()
