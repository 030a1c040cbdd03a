"""Benchmark (not a test): turns per second as `botport serve --workers N` grows.

For each N: a fresh PostgreSQL database (dropped afterwards), Redis, the Coze emulator
(`botport emulator`, its demo bot: ~80 deltas over ~1.2 s) and `botport serve --workers N` pointed at it.
C clients loop streamed turns on /v1/chat/completions (a new conversation each: one user message) for
a warm-up, then for the measured window. Reported per N: completed turns per second and the ratio to
N=1, p50 turn time, and the cores each party used: botport (parent + workers), the emulator, this
client, PostgreSQL + Redis, and the whole machine. On a small machine they all compete for the same
cores: read the throughput beside the machine's busy cores.

    python bench/bench_workers.py                          # --workers 1 2, 128 concurrent, 20 s each
    python bench/bench_workers.py --workers 1 2 4 --rounds 3       # medians over 3 rounds of 1, 2, 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import psycopg

# The helpers of the gateway bench (this script's folder is on sys.path when run as a script).
from bench_gateway import DEMO_BOT_ID, QUESTION, TOKEN, cpu_seconds, free_port, process, wait_up
from sqlalchemy.engine import make_url


@dataclass
class Sample:
    """CPU seconds used so far by botport (all its processes), the emulator, this client, PostgreSQL and
    Redis (every process of theirs on the machine, whoever it serves) and the whole machine."""

    botport: float
    emulator: float
    client: float
    stores: dict[int, float]  # PostgreSQL and Redis processes, by pid (backends come and go)
    machine: float


@dataclass
class Load:
    done: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    durations: list[float] = field(default_factory=list)


async def streamed_turn(client: httpx.AsyncClient) -> str | None:
    """One streamed turn through the OpenAI edge, read to its end; None when it ended with [DONE],
    else what went wrong."""
    body = {"model": "default", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    tail = b""
    try:
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            async for chunk in response.aiter_raw():
                tail = (tail + chunk)[-200:]
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    return None if b"data: [DONE]" in tail else f"no [DONE]: {tail[-120:]!r}"


async def saturate(
    url: str, key: str, concurrency: int, warmup: float, seconds: float, sample: Callable[[], Sample]
) -> tuple[Load, Sample, Sample]:
    """``concurrency`` loops of turns; counts those that end inside the window after the warm-up, and
    samples the CPU clocks at the window's start and end (the load runs on through both)."""
    limits = httpx.Limits(
        max_connections=concurrency + 5, max_keepalive_connections=concurrency + 5, keepalive_expiry=2.0
    )
    load = Load()
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as client:
        start = time.monotonic()
        opens, closes = start + warmup, start + warmup + seconds

        async def loop() -> None:
            while time.monotonic() < closes:
                began = time.monotonic()
                error = await streamed_turn(client)
                ended = time.monotonic()
                if opens <= ended <= closes:
                    if error is None:
                        load.done += 1
                        load.durations.append(ended - began)
                    else:
                        load.errors[error] += 1

        async def clocks() -> tuple[Sample, Sample]:
            await asyncio.sleep(warmup)
            first = sample()
            await asyncio.sleep(max(0.0, closes - time.monotonic()))
            return first, sample()

        samples, *_ = await asyncio.gather(clocks(), *(loop() for _ in range(concurrency)))
    return load, samples[0], samples[1]


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(child) for child in fh.read().split()]
    except FileNotFoundError:
        return []


def store_cpu_seconds() -> dict[int, float]:
    """CPU seconds of each PostgreSQL and Redis process on the machine."""
    seconds: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() not in ("postgres", "redis-server"):
                    continue
            seconds[int(entry)] = cpu_seconds(int(entry))
        except (FileNotFoundError, ProcessLookupError):  # ended while we looked
            continue
    return seconds


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine so far, summed over its cores (/proc/stat)."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:8]]  # user .. softirq, without steal/guest
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database next to the admin URL's; dropped afterwards."""
    name = f"botport_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def bench_one(
    args: argparse.Namespace, workers: int, emulator_url: str, emulator_pid: int
) -> dict[str, float]:
    data_dir = tempfile.mkdtemp(prefix="botport-bench-workers-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        with fresh_database(args.postgres_url) as database_url:
            env = {
                **os.environ,
                "BOTPORT_COZE_TOKEN": TOKEN,
                "BOTPORT_COZE_BASE_URL": emulator_url,
                "BOTPORT_BOT_ID": DEMO_BOT_ID,
                "BOTPORT_DATA_DIR": data_dir,
                "BOTPORT_PORT": str(port),
                "BOTPORT_LOG_LEVEL": "warning",
                "BOTPORT_DATABASE_URL": database_url,
                "BOTPORT_REDIS_URL": args.redis_url,
            }
            key = subprocess.run(
                ["botport", "keys", "create", "bench"], env=env, check=True, capture_output=True, text=True
            ).stdout.strip()
            with process(["botport", "serve", "--workers", str(workers)], env) as botport:
                wait_up(f"{url}/healthz")  # one worker is up; the warm-up covers the others' start

                def sample() -> Sample:
                    # The parent and its children (the workers, and multiprocessing's resource tracker).
                    pids = [botport.pid, *children(botport.pid)]
                    return Sample(
                        botport=sum(cpu_seconds(pid) for pid in pids),
                        emulator=cpu_seconds(emulator_pid),
                        client=time.process_time(),
                        stores=store_cpu_seconds(),
                        machine=machine_busy_seconds(),
                    )

                load, before, after = asyncio.run(
                    saturate(url, key, args.concurrency, args.warmup, args.seconds, sample)
                )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    seconds = args.seconds
    durations = sorted(load.durations) or [0.0]
    botport_cpu = after.botport - before.botport
    stores = sum(cpu - before.stores.get(pid, 0.0) for pid, cpu in after.stores.items())
    if load.errors:
        print(f"{workers} worker(s), failed turns: {dict(load.errors)}", file=sys.stderr)
    return {
        "workers": workers,
        "turns": load.done,
        "errors": load.errors.total(),
        "turns_per_s": round(load.done / seconds, 1),
        "turn_p50_ms": round(durations[len(durations) // 2] * 1000),
        "botport_cores": round(botport_cpu / seconds, 2),
        "emulator_cores": round((after.emulator - before.emulator) / seconds, 2),
        "client_cores": round((after.client - before.client) / seconds, 2),
        "pg_redis_cores": round(stores / seconds, 2),
        "machine_busy_cores": round((after.machine - before.machine) / seconds, 2),
        "botport_cpu_ms_per_turn": round(botport_cpu * 1000 / load.done, 1) if load.done else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=128, help="turns running at once")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per N")
    parser.add_argument("--warmup", type=float, default=5.0, help="load before the window, per N")
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="a database to connect to to create (and drop) each N's fresh database",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole list of N (medians)")
    args = parser.parse_args()

    emulator_port = free_port()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    rows: list[dict[str, float]] = []
    first = args.workers[0]
    with process(
        ["botport", "emulator", "--port", str(emulator_port), "--token", TOKEN], dict(os.environ)
    ) as emu:
        wait_up(f"{emulator_url}/v1/conversations")
        for round_ in range(1, args.rounds + 1):  # N after N in each round: drifts in load hit all alike
            base = 0.0
            for workers in args.workers:
                row = {"round": round_, **bench_one(args, workers, emulator_url, emu.pid)}
                base = base or row["turns_per_s"]
                row[f"vs_{first}_worker"] = round(row["turns_per_s"] / base, 2) if base else 0.0
                rows.append(row)
                print(row, file=sys.stderr)
    print(f"{os.cpu_count()} cores; {args.concurrency} concurrent streamed turns, {args.seconds:g} s per N")
    columns = list(rows[0])
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[column]) for column in columns))
    if args.rounds > 1:
        print(f"\nworkers | turns/s median (min-max) | vs {first} worker, median")
        for workers in args.workers:
            mine = [row for row in rows if row["workers"] == workers]
            rates = [row["turns_per_s"] for row in mine]
            ratio = statistics.median(row[f"vs_{first}_worker"] for row in mine)
            print(f"{workers} | {statistics.median(rates):.1f} ({min(rates)}-{max(rates)}) | {ratio:.2f}")


if __name__ == "__main__":
    main()
