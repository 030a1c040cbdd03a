"""Connections for streams to Coze, in small httpx pools filled in order.

httpcore scans every connection of a pool each time a request starts or a response ends (and asks the
OS whether each idle one is still open), so one pool of a few hundred connections costs that many
checks per turn, and one of thousands stalls the event loop (70 % of botport's time at 5,000 open
streams). Here streams take connections from pools of :data:`SHARD` at most, the first one with room
first: a turn's bookkeeping stays small however many run, and idle connections are reused, since the
streams keep to the first pools.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

SHARD = 64  # connections per pool


class StreamPools:
    """``take()`` a pool for a stream (the caller has admitted it: fewer than ``max_connections``
    run), ``give_back()`` when the stream has ended."""

    def __init__(self, make: Callable[[int], httpx.AsyncClient], max_connections: int) -> None:
        self._make = make
        count = -(-max_connections // SHARD)
        self._sizes = [min(SHARD, max_connections - i * SHARD) for i in range(count)]
        self._clients: list[httpx.AsyncClient | None] = [None] * count
        self._in_flight = [0] * count

    def take(self) -> tuple[int, httpx.AsyncClient]:
        for index, size in enumerate(self._sizes):
            if self._in_flight[index] < size:
                self._in_flight[index] += 1
                client = self._clients[index]
                if client is None:
                    client = self._clients[index] = self._make(size)
                return index, client
        raise RuntimeError("more streams than admitted")  # the caller's count prevents it

    def give_back(self, index: int) -> None:
        self._in_flight[index] -= 1

    async def aclose(self) -> None:
        await asyncio.gather(*(client.aclose() for client in self._clients if client is not None))
