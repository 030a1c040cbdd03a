"""Crash soak (not a test): ``kill -9`` botport under streamed turns, restart it, measure what is left.

Starts the Coze emulator and botport (token mode, pointed at it) as real processes, like
``bench/bench_gateway.py``. Each round streams one long answer in each of N conversations, waits
until every one is streaming and checkpointed, SIGKILLs the server, restarts it on the same store,
and sends the first new turn (``stream: false``) in every conversation, once, without retrying.
The conversations are kept from round to round. Per round it prints:

- conversations, and the answers still ``streaming`` right after the restart (SQLite: must be 0;
  with ``--database-url`` they stay until the lease runs out, and the script waits for that);
- the orphaned Coze chats the restart cancelled;
- the first new turns: OK (200) / 409 / 502 / other;
- the partial texts kept: interrupted answers stored as ``failed`` (``turn_lost``) whose text is a
  non-empty prefix of what the client received, and the most text (seconds of it) a crash lost.

    python scripts/crash_soak.py                       # 50 conversations, 3 rounds, SQLite
    python scripts/crash_soak.py --conversations 100 --rounds 5
    # PostgreSQL, in a schema of its own (create it first: CREATE SCHEMA soak)
    python scripts/crash_soak.py --database-url 'postgresql://127.0.0.1/test?options=-csearch_path%3Dsoak'

The helpers live with the test that runs the short version: tests/reliability/crash_helpers.py.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))

import httpx
from crash_helpers import (
    LONG_QUESTION,
    SHORT_QUESTION,
    Botport,
    Stream,
    all_messages,
    api_client,
    create_conversations,
    emulator_chat_status,
    running_emulator,
    send,
    stream_turn,
    wait_streaming_and_checkpointed,
)


@dataclass
class Round:
    number: int
    conversations: int = 0
    streaming_after_restart: int = 0
    resolved_after: float = 0.0  # seconds from the kill until no answer was streaming
    restart_seconds: float = 0.0
    chats_running_after_kill: int = 0
    chats_cancelled: int = 0
    ok: int = 0
    conflict: int = 0
    bad_gateway: int = 0
    other: int = 0
    kept: int = 0
    most_chars_lost: int = 0
    most_seconds_lost: float = 0.0
    problems: tuple[str, ...] = ()

    def line(self) -> str:
        return (
            f"round {self.number}: conversations {self.conversations} | "
            f"streaming after restart {self.streaming_after_restart} "
            f"(none streaming {self.resolved_after:.1f} s after the kill, "
            f"restart took {self.restart_seconds:.1f} s) | "
            f"orphaned chats cancelled {self.chats_cancelled}/{self.chats_running_after_kill} | "
            f"new turns OK {self.ok} / 409 {self.conflict} / 502 {self.bad_gateway} / other {self.other} | "
            f"partial texts kept {self.kept}/{self.conversations} "
            f"(most lost: {self.most_chars_lost} chars, {self.most_seconds_lost:.2f} s of text)"
        )


async def stream_until_checkpointed(
    botport: Botport, key: str, conversations: list[str]
) -> tuple[list[Stream], float]:
    """Start a long streamed answer in every conversation; kill the server once all are checkpointed."""
    async with api_client(botport, key, len(conversations)) as client:
        streams = [Stream(c) for c in conversations]
        tasks = [asyncio.create_task(stream_turn(client, s, LONG_QUESTION)) for s in streams]
        try:
            await wait_streaming_and_checkpointed(client, streams, min_deltas=2, timeout=120)
        finally:
            killed_at = botport.kill()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    return streams, killed_at


async def chat_statuses(botport: Botport, answers: list[str]) -> list[str]:
    ids = botport.coze_ids(answers)
    found = [ids.get(a, (None, None)) for a in answers]
    return list(
        await asyncio.gather(
            *(
                emulator_chat_status(botport.emulator_url, conv, chat) if conv and chat else _unknown()
                for conv, chat in found
            )
        )
    )


async def _unknown() -> str:
    return "no chat id stored"


async def after_restart(
    botport: Botport, key: str, streams: list[Stream], killed_at: float, result: Round
) -> None:
    conversations = [s.conversation_id for s in streams]
    async with api_client(botport, key, len(conversations)) as client:
        stored = await all_messages(client, conversations)
        result.streaming_after_restart = sum(
            m["status"] == "streaming" for items in stored.values() for m in items
        )
        # A shared database: the dead instance's turns are orphans only once their lease ran out.
        deadline = time.monotonic() + botport.lease + 30
        while any(m["status"] == "streaming" for items in stored.values() for m in items):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
            stored = await all_messages(client, conversations)
        result.resolved_after = time.monotonic() - killed_at
        statuses = await chat_statuses(botport, [s.message_id for s in streams])
        result.chats_cancelled = statuses.count("canceled")

        replies = await asyncio.gather(*(timed_send(client, c) for c in conversations))
        problems = []
        for conversation_id, (took, reply) in zip(conversations, replies, strict=True):
            if isinstance(reply, httpx.Response) and reply.status_code in (200, 409, 502):
                code = reply.status_code
                result.ok += code == 200
                result.conflict += code == 409
                result.bad_gateway += code == 502
                if code != 200:
                    problems.append(f"{conversation_id}: {code} {reply.text}")
            else:
                result.other += 1
                problems.append(f"{conversation_id}: new turn: {reply!r} after {took:.2f} s")
        stored = await all_messages(client, conversations)
    for s in streams:
        problem = _check_kept(s, stored[s.conversation_id], killed_at, result)
        if problem:
            problems.append(f"{s.conversation_id}: {problem}")
    result.problems = tuple(problems)


async def timed_send(client: httpx.AsyncClient, conversation_id: str) -> tuple[float, Any]:
    """The first new turn, once: (seconds it took, the response or the exception)."""
    started = time.monotonic()
    try:
        reply: Any = await send(client, conversation_id, SHORT_QUESTION)
    except httpx.HTTPError as exc:
        reply = exc
    return time.monotonic() - started, reply


def _check_kept(stream: Stream, items: list[dict[str, Any]], killed_at: float, result: Round) -> str:
    answer = next((m for m in items if m["id"] == stream.message_id), None)
    if answer is None:
        return "the interrupted answer is gone"
    error = answer.get("error") or {}
    if answer["status"] != "failed" or error.get("code") != "turn_lost":
        return f"interrupted answer is {answer['status']} ({error.get('code')})"
    content, received = answer["content"], stream.received()
    if not content or not received.startswith(content):
        return f"stored {content!r} is not a non-empty prefix of the received {received!r}"
    result.kept += 1
    result.most_chars_lost = max(result.most_chars_lost, len(received) - len(content))
    lost = [at for at, _ in _deltas_after(stream, len(content))]
    if lost:
        result.most_seconds_lost = max(result.most_seconds_lost, killed_at - lost[0])
    return ""


def _deltas_after(stream: Stream, stored_chars: int) -> list[tuple[float, str]]:
    """The deltas the client had that the stored text does not include."""
    seen = 0
    missing = []
    for at, text in stream.deltas:
        seen += len(text)
        if seen > stored_chars:
            missing.append((at, text))
    return missing


async def soak_round(botport: Botport, key: str, conversations: list[str], number: int) -> Round:
    result = Round(number, conversations=len(conversations))
    streams, killed_at = await stream_until_checkpointed(botport, key, conversations)
    result.chats_running_after_kill = (await chat_statuses(botport, [s.message_id for s in streams])).count(
        "in_progress"
    )
    started = time.monotonic()
    botport.start()
    result.restart_seconds = time.monotonic() - started
    await after_restart(botport, key, streams, killed_at, result)
    return result


async def soak(botport: Botport, key: str, conversations: int, rounds: int) -> list[Round]:
    async with api_client(botport, key, conversations) as client:
        ids = await create_conversations(client, conversations)
    results = []
    for number in range(1, rounds + 1):
        result = await soak_round(botport, key, ids, number)
        print(result.line(), flush=True)
        for problem in result.problems[:10]:
            print(f"    {problem}", file=sys.stderr)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lease", type=float, default=3.0, help="BOTPORT_TURN_LEASE, seconds")
    parser.add_argument("--database-url", default=None, help="botport's database (default: SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, database)")
    args = parser.parse_args()

    work_dir = Path(tempfile.mkdtemp(prefix="botport-crash-soak-"))
    print(f"work dir {work_dir} ({'PostgreSQL' if args.database_url else 'SQLite'})", file=sys.stderr)
    failed = True  # until the soak ran to its end without a problem
    try:
        with running_emulator(work_dir) as emulator_url:
            botport = Botport(work_dir, emulator_url, database_url=args.database_url, lease=args.lease)
            key = botport.create_key()
            botport.start()
            try:
                results = asyncio.run(soak(botport, key, args.conversations, args.rounds))
            finally:
                botport.stop()
        left_running = not args.database_url and any(r.streaming_after_restart for r in results)
        failed = left_running or any(r.problems for r in results)
    finally:
        if failed:
            print(f"server logs and database kept in {work_dir}", file=sys.stderr)
        elif not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
