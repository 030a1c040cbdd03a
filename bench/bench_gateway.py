"""Benchmark (not a test): what botport adds on top of Coze, on loopback.

Starts the Coze emulator, botport (pointed at it, as at a real Coze) and the floor (bench/floor.py: a
bare streaming pass-through, the least a gateway can cost) as real servers, then sends the same
demo-bot turn N times at concurrency C: straight to the emulator, through the floor, and through
botport, streaming and not. Reports time to first delta and total time (p50 / p99), the difference, and the
CPU time botport spent per turn (which, unlike latency, does not depend on what else the machine runs:
at high concurrency on a small machine the client, the emulator and botport compete for the cores).

    python bench/bench_gateway.py                 # 1 and 100 concurrent turns
    python bench/bench_gateway.py --turns 200 --concurrency 1 50 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

TOKEN = "bench-token"
FLOOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "floor.py")
DEMO_BOT_ID = "7000000000000000001"
QUESTION = "How fast is this gateway?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def process(cmd: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class Sample:
    first_delta: float
    total: float


async def direct_turn(client: httpx.AsyncClient, url: str, stream: bool) -> Sample:
    """The turn sent straight to the emulator: a streamed Coze chat, read to the end."""
    body = {
        "bot_id": DEMO_BOT_ID,
        "user_id": "bench",
        "stream": True,
        "additional_messages": [{"role": "user", "content": QUESTION, "content_type": "text"}],
    }
    start = time.perf_counter()
    first = 0.0
    async with client.stream("POST", f"{url}/v3/chat", json=body) as response:
        async for chunk in response.aiter_bytes():
            # the first message.delta (reasoning or answer), as botport counts it
            if not first and b"conversation.message.delta" in chunk:
                first = time.perf_counter() - start
    total = time.perf_counter() - start
    return Sample(first or total, total)


async def botport_turn(client: httpx.AsyncClient, url: str, stream: bool) -> Sample:
    created = await client.post(f"{url}/api/conversations", json={})
    conversation = created.json()["id"]
    start = time.perf_counter()
    first = 0.0
    target = f"{url}/api/conversations/{conversation}/messages"
    if stream:
        async with client.stream("POST", target, json={"content": QUESTION, "stream": True}) as response:
            async for chunk in response.aiter_bytes():
                # reasoning.delta or text.delta: the first thing a user sees being written
                if not first and b"delta" in chunk:
                    first = time.perf_counter() - start
    else:
        response = await client.post(target, json={"content": QUESTION, "stream": False})
        response.raise_for_status()
    total = time.perf_counter() - start
    return Sample(first or total, total)


async def run(
    fn, url: str, headers: dict[str, str], turns: int, concurrency: int, stream: bool
) -> list[Sample]:
    # Idle connections are dropped before uvicorn's 5 s keep-alive closes them: reusing one just as the
    # server closes it fails the request with a ReadError that says nothing about either server.
    limits = httpx.Limits(
        max_connections=concurrency + 5, max_keepalive_connections=concurrency + 5, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(headers=headers, timeout=120, limits=limits) as client:
        await fn(client, url, stream)  # warm-up
        gate = asyncio.Semaphore(concurrency)

        async def one() -> Sample:
            async with gate:
                return await fn(client, url, stream)

        return list(await asyncio.gather(*(one() for _ in range(turns))))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def summary(
    label: str, direct: list[Sample], via: list[Sample], streamed: bool, floor: list[Sample]
) -> dict[str, float | str]:
    d_total = [s.total for s in direct]
    v_total = [s.total for s in via]
    return {
        "case": label,
        "floor_total_p50_ms": round(pct([s.total for s in floor], 0.5), 1),
        "floor_first_delta_p50_ms": round(pct([s.first_delta for s in floor], 0.5), 1),
        "direct_total_p50_ms": round(pct(d_total, 0.5), 1),
        "botport_total_p50_ms": round(pct(v_total, 0.5), 1),
        "added_p50_ms": round(pct(v_total, 0.5) - pct(d_total, 0.5), 1),
        "direct_total_p99_ms": round(pct(d_total, 0.99), 1),
        "botport_total_p99_ms": round(pct(v_total, 0.99), 1),
        "direct_first_delta_p50_ms": round(pct([s.first_delta for s in direct], 0.5), 1),
        "botport_first_delta_p50_ms": round(pct([s.first_delta for s in via], 0.5), 1) if streamed else "-",
        "botport_first_delta_p99_ms": round(pct([s.first_delta for s in via], 0.99), 1) if streamed else "-",
        "mean_total_ms_direct": round(statistics.mean(d_total) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=0, help="turns per case (default: max(50, 2*C))")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--database-url", default=None, help="botport's database (default: SQLite file)")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="botport-bench-")
    emu_port, bp_port = free_port(), free_port()
    emu_url, bp_url = f"http://127.0.0.1:{emu_port}", f"http://127.0.0.1:{bp_port}"
    env = {
        **os.environ,
        "BOTPORT_COZE_TOKEN": TOKEN,
        "BOTPORT_COZE_BASE_URL": emu_url,
        "BOTPORT_BOT_ID": DEMO_BOT_ID,
        "BOTPORT_DATA_DIR": data_dir,
        "BOTPORT_PORT": str(bp_port),
        "BOTPORT_LOG_LEVEL": "warning",
    }
    if args.database_url:
        env["BOTPORT_DATABASE_URL"] = args.database_url
    key = subprocess.run(
        ["botport", "keys", "create", "bench"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    results = []
    floor_port = free_port()
    floor_url = f"http://127.0.0.1:{floor_port}"
    floor_cmd = [sys.executable, FLOOR, "--upstream", emu_url, "--port", str(floor_port)]
    try:
        with (
            process(["botport", "emulator", "--port", str(emu_port), "--token", TOKEN], env),
            process(["botport", "serve"], env) as botport,
            process(floor_cmd, env) as floor,
        ):
            wait_up(f"{emu_url}/v1/conversations")
            wait_up(f"{bp_url}/healthz")
            wait_up(f"{floor_url}/")
            for concurrency in args.concurrency:
                turns = args.turns or max(50, 2 * concurrency)
                for stream in (True, False):
                    direct = asyncio.run(
                        run(
                            direct_turn,
                            emu_url,
                            {"Authorization": f"Bearer {TOKEN}"},
                            turns,
                            concurrency,
                            True,
                        )
                    )
                    floor_before = cpu_seconds(floor.pid)
                    through_floor = asyncio.run(
                        run(
                            direct_turn,
                            floor_url,
                            {"Authorization": f"Bearer {TOKEN}"},
                            turns,
                            concurrency,
                            True,
                        )
                    )
                    floor_cpu_ms = (cpu_seconds(floor.pid) - floor_before) * 1000 / (turns + 1)
                    auth = {"Authorization": f"Bearer {key}"}
                    cpu_before = cpu_seconds(botport.pid)
                    via = asyncio.run(run(botport_turn, bp_url, auth, turns, concurrency, stream))
                    # Includes the warm-up turn: turns + 1 conversations and turns in all.
                    cpu_ms = (cpu_seconds(botport.pid) - cpu_before) * 1000 / (turns + 1)
                    label = f"{'stream' if stream else 'non-stream'} x{concurrency} ({turns} turns)"
                    row = summary(label, direct, via, stream, through_floor)
                    row["botport_cpu_ms_per_turn"] = round(cpu_ms, 1)
                    row["floor_cpu_ms_per_turn"] = round(floor_cpu_ms, 1)
                    row["cpu_botport_over_floor"] = round(cpu_ms / floor_cpu_ms, 1) if floor_cpu_ms else "-"
                    results.append(row)
                    print(json.dumps(results[-1]), file=sys.stderr)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    cols = list(results[0])
    print(" | ".join(cols))
    for row in results:
        print(" | ".join(str(row[c]) for c in cols))


if __name__ == "__main__":
    main()
