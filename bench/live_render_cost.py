"""CPU cost of rendering an answer while it streams (botport.api.live_render, ``X-Botport-Render``).

A 2,000-word markdown answer (paragraphs, lists, code, a table) streamed one word per delta, through
``with_snapshots`` at a given pace; prints the CPU time spent with and without snapshots, and what
rendering after every delta (the O(n^2) way) would cost. Not a test: numbers vary by machine.

    python bench/live_render_cost.py [seconds-between-deltas]   (default 0.002: 2,000 words in ~4 s)
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator

from botport.api.live_render import Snapshot, with_snapshots
from botport.chat.eventlog import Entry, Keepalive
from botport.chat.events import MessageCompleted, TextDelta
from botport.render import render_markdown

SECTION = (
    "## Part {n}\n\nThe emulator speaks the same **wire protocol** as Coze: every answer arrives as a "
    "sequence of server-sent events, each a small JSON object that carries one increment of the text, "
    "see https://www.coze.com/open/docs/developer_guides/chat_v3 for details.\n\n"
    "- first point with `code`\n- second point, *emphasis*\n\n"
    "```python\nfor event in stream:\n    print(event.message.content, end='')\n```\n\n"
    "| event | ends |\n|---|---|\n| delta | no |\n| completed | yes |\n\n"
)


def answer(words: int = 2000) -> list[str]:
    out: list[str] = []
    n = 0
    while len(out) < words:
        n += 1
        out.extend(SECTION.format(n=n).split(" "))
    return [w + " " for w in out[:words]]


async def stream(parts: list[str], pause: float) -> AsyncIterator[Entry | Keepalive]:
    for i, part in enumerate(parts):
        await asyncio.sleep(pause)
        yield i + 1, TextDelta(part)
    yield len(parts) + 1, MessageCompleted("".join(parts))


async def run(parts: list[str], pause: float, snapshots: bool) -> tuple[float, float, int]:
    cpu, wall, count = time.process_time(), time.perf_counter(), 0
    source = stream(parts, pause)
    if snapshots:
        async for item in with_snapshots(source):
            count += isinstance(item, Snapshot)
    else:
        async for _ in source:
            pass
    return time.process_time() - cpu, time.perf_counter() - wall, count


def main() -> None:
    pause = float(sys.argv[1]) if len(sys.argv) > 1 else 0.002
    parts = answer()
    text = "".join(parts)
    print(f"answer: {len(parts)} words, {len(text)} chars; one word per delta, {pause * 1000:.1f} ms apart")
    base_cpu, base_wall, _ = asyncio.run(run(parts, pause, snapshots=False))
    cpu, wall, count = asyncio.run(run(parts, pause, snapshots=True))
    print(f"without snapshots: {base_cpu * 1000:.0f} ms CPU over {base_wall:.1f} s")
    print(f"with snapshots:    {cpu * 1000:.0f} ms CPU over {wall:.1f} s, {count} snapshots")
    print(f"snapshot cost:     {(cpu - base_cpu) * 1000:.0f} ms CPU")
    started = time.process_time()
    render_markdown(text + " ")  # one whole render (uncached)
    print(f"one render of the whole answer: {(time.process_time() - started) * 1000:.1f} ms CPU")
    step = 50  # every 50th delta, scaled up: rendering after every delta
    started = time.process_time()
    for end in range(step, len(parts) + 1, step):
        render_markdown("".join(parts[:end]) + "\u200b")
    per_delta = (time.process_time() - started) * step
    print(f"rendering after every delta instead (estimated): {per_delta:.1f} s CPU")


if __name__ == "__main__":
    main()
