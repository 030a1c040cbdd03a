"""A background response started on instance A, its stream resumed with ``starting_after`` on
instance B (shared PostgreSQL, Redis and Coze), and cancelled from B: the official ``openai`` client.
"""

from __future__ import annotations

import asyncio

import openai
import pytest
from gateway_helpers import emulator
from test_gateway_instances import Cluster, cluster  # noqa: F401 (the fixture)

from api_keys import new_key
from botport.emulator.faults import Faults

pytestmark = [pytest.mark.live, pytest.mark.postgres]


def _client(url: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


async def test_a_background_stream_resumes_on_the_other_instance(cluster: Cluster) -> None:  # noqa: F811
    # slow: ~40 deltas, ~2 s; demo: ~80 deltas at 0.3 s, always stopped long before its end
    coze = emulator({"slow": Faults(delta_delay=0.05), "demo": Faults(delta_delay=0.3)})
    url_a, _ = cluster.start("a", coze)
    url_b, _ = cluster.start("b", coze)
    key = await new_key(cluster.postgres_url, "responses across instances")
    async with _client(url_a, key) as on_a, _client(url_b, key) as on_b:
        stream = await on_a.responses.create(
            model="slow", input="tell me a story", background=True, stream=True
        )
        first = []
        async for event in stream:
            first.append(event)
            if event.type == "response.output_text.delta" and event.sequence_number >= 12:
                break
        await stream.close()  # A's client goes away; the answer goes on
        response_id, seen = first[0].response.id, first[-1].sequence_number
        resumed = [
            e async for e in await on_b.responses.retrieve(response_id, stream=True, starting_after=seen)
        ]
        assert resumed[0].sequence_number == seen + 1
        numbers = [e.sequence_number for e in first + resumed]
        assert numbers == list(range(len(numbers)))
        assert resumed[-1].type == "response.completed"
        text = "".join(e.delta for e in first + resumed if e.type == "response.output_text.delta")
        final = await on_b.responses.retrieve(response_id)
        assert final.status == "completed" and text == final.output_text

        # Cancelled from B while A runs it: stopped, partial answer kept.
        started = await on_a.responses.create(model="demo", input="another story", background=True)
        for _ in range(200):  # until B reads part of it (A stores it every second or so)
            if (await on_b.responses.retrieve(started.id)).output:
                break
            await asyncio.sleep(0.05)
        cancelled = await on_b.responses.cancel(started.id)
        assert cancelled.status == "cancelled" and cancelled.output  # what was written stays
        assert (await on_a.responses.retrieve(started.id)).status == "cancelled"
