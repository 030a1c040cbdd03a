"""Benchmark (not a test): what botport costs on top of the least a streaming gateway can cost.

Starts, as real servers on loopback: the Coze emulator; **the floor** (bench/floor.py, a bare Starlette
+ httpx pass-through: no auth, no storage, no parsing); and botport pointed at the emulator as at a
real Coze (SQLite by default). Then, in one run:

- **latency**: the demo bot's turn (~80 deltas over ~1.2 s) at 1, 10 and 100 concurrent turns, straight
  to the emulator, through the floor, and through botport's ``/api`` stream, ``/api`` JSON and ``/v1``
  (OpenAI) stream: time to first delta and total (p50 / p99), and CPU seconds per turn of the floor's
  and of botport's process, with their ratio;
- **saturation**: a bot with no delays (the emulator answers as fast as it can), 32 at a time: turns
  per second and CPU per turn of the floor and of botport.

``--rounds R`` repeats everything R times, interleaved, and prints each figure as a range. CPU per turn
does not depend on what else the machine runs; latency and throughput do (the client, the emulator
and the server share the cores), so the machine and its load average are printed too.

    python bench/bench_gateway.py                          # 1, 10 and 100 at a time, and saturation
    python bench/bench_gateway.py --rounds 3 --concurrency 1 100
    python bench/bench_gateway.py --database-url postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

TOKEN = "bench-token"
FLOOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "floor.py")
DEMO_BOT_ID = "7000000000000000001"
FAST_BOT_ID = "7000000000000000901"  # the demo bot with no delays: the saturation runs
QUESTION = "How fast is this gateway?"
SATURATION_CONCURRENCY = 32


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


def serve_emulator(port: int) -> None:
    """``botport emulator`` with one more bot: the demo bot without delays (for saturation)."""
    from dataclasses import replace

    import uvicorn

    from botport.emulator.app import create_emulator_app
    from botport.emulator.bots import DEMO_BOTS
    from botport.emulator.faults import Faults

    demo = next(bot for bot in DEMO_BOTS if bot.id == DEMO_BOT_ID)
    fast = replace(demo, id=FAST_BOT_ID, name="Fast demo", faults=Faults())
    uvicorn.run(
        create_emulator_app([TOKEN], bots=[*DEMO_BOTS, fast]),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )


# --- one turn, through each path ------------------------------------------------------------------


@dataclass
class Sample:
    first_delta: float
    total: float


Turn = Callable[[httpx.AsyncClient, str], Awaitable[Sample]]


async def streamed(
    client: httpx.AsyncClient, url: str, body: Any, first_markers: tuple[bytes, ...]
) -> Sample:
    """POST ``body`` and read the stream to its end: the time to the first chunk holding one of
    ``first_markers`` (the first delta), and the total. An ``error`` event fails the turn."""
    start = time.perf_counter()
    first = 0.0
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            if not first and any(marker in chunk for marker in first_markers):
                first = time.perf_counter() - start
            if b"event: error" in chunk:
                raise RuntimeError(chunk.decode(errors="replace"))
    total = time.perf_counter() - start
    return Sample(first or total, total)


def coze_turn(bot_id: str) -> Turn:
    """A streamed Coze chat (straight to the emulator, or through the floor), read to the end."""
    body = {
        "bot_id": bot_id,
        "user_id": "bench",
        "stream": True,
        "additional_messages": [{"role": "user", "content": QUESTION, "content_type": "text"}],
    }

    async def turn(client: httpx.AsyncClient, url: str) -> Sample:
        return await streamed(client, f"{url}/v3/chat", body, (b"conversation.message.delta",))

    return turn


def api_turn(bot: str, *, stream: bool) -> Turn:
    """botport's own API: a new conversation (not timed), then one turn in it."""

    async def turn(client: httpx.AsyncClient, url: str) -> Sample:
        created = await client.post(f"{url}/api/conversations", json={"bot": bot})
        created.raise_for_status()
        target = f"{url}/api/conversations/{created.json()['id']}/messages"
        if stream:
            # reasoning.delta or text.delta: the first thing a user sees being written
            return await streamed(client, target, {"content": QUESTION, "stream": True}, (b".delta",))
        start = time.perf_counter()
        response = await client.post(target, json={"content": QUESTION, "stream": False})
        response.raise_for_status()
        total = time.perf_counter() - start
        return Sample(total, total)

    return turn


def openai_turn(model: str) -> Turn:
    """botport's OpenAI edge, streamed: a new conversation each time (no history sent)."""
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    markers = (b'"content":"', b'"reasoning_content":"')

    async def turn(client: httpx.AsyncClient, url: str) -> Sample:
        return await streamed(client, f"{url}/v1/chat/completions", body, markers)

    return turn


def responses_turn(model: str) -> Turn:
    """botport's Responses edge, streamed: a new response (and conversation) each time."""
    body = {"model": model, "stream": True, "input": QUESTION}
    markers = (b"response.output_text.delta", b"response.reasoning_text.delta")

    async def turn(client: httpx.AsyncClient, url: str) -> Sample:
        return await streamed(client, f"{url}/v1/responses", body, markers)

    return turn


async def run(turn: Turn, url: str, headers: dict[str, str], turns: int, concurrency: int) -> list[Sample]:
    # Idle connections are dropped before uvicorn's 5 s keep-alive closes them: reusing one just as the
    # server closes it fails the request with a ReadError that says nothing about either server.
    limits = httpx.Limits(
        max_connections=concurrency + 5, max_keepalive_connections=concurrency + 5, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(headers=headers, timeout=120, limits=limits) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one() -> Sample:
            async with gate:
                return await turn(client, url)

        return list(await asyncio.gather(*(one() for _ in range(turns))))


# --- measuring ------------------------------------------------------------------------------------


@dataclass
class Measured:
    samples: list[Sample]
    wall: float  # seconds for all the turns
    cpu_ms_per_turn: float | None  # of the server process; None for the emulator itself

    @property
    def turns_per_second(self) -> float:
        return len(self.samples) / self.wall


def measure(
    turn: Turn, url: str, headers: dict[str, str], turns: int, concurrency: int, pid: int | None
) -> Measured:
    asyncio.run(run(turn, url, headers, min(concurrency, 5), min(concurrency, 5)))  # warm-up
    cpu_before = cpu_seconds(pid) if pid else 0.0
    started = time.perf_counter()
    samples = asyncio.run(run(turn, url, headers, turns, concurrency))
    wall = time.perf_counter() - started
    cpu = (cpu_seconds(pid) - cpu_before) * 1000 / turns if pid else None
    return Measured(samples, wall, cpu)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


@dataclass
class Figures:
    """One cell's values over the rounds."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def cell(self, digits: int = 0) -> str:
        if not self.values:
            return "–"
        low, high = min(self.values), max(self.values)
        fmt = f"{{:.{digits}f}}"
        return (
            fmt.format(low)
            if fmt.format(low) == fmt.format(high)
            else f"{fmt.format(low)}–{fmt.format(high)}"
        )


@dataclass
class Row:
    case: str
    figures: dict[str, Figures] = field(default_factory=dict)

    def add(self, name: str, value: float | None) -> None:
        self.figures.setdefault(name, Figures()).add(value)

    def cell(self, name: str, digits: int = 0) -> str:
        return self.figures.get(name, Figures()).cell(digits)


def machine() -> str:
    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    python = sys.version.split()[0]
    return f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GB RAM, load average {load}, Python {python}"


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Servers:
    emulator: str
    floor: str
    floor_pid: int
    botport: str
    botport_pid: int
    key: str


def serve_botport(loop: str, http: str) -> None:
    """botport on a given event loop and HTTP parser (``botport serve`` lets uvicorn pick: uvloop and
    httptools when installed, as uvicorn[standard] installs them)."""
    import uvicorn

    from botport.app import create_app
    from botport.settings import load_settings

    settings = load_settings(None)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop=loop,
        http=http,
        log_level="warning",
    )


@contextmanager
def servers(database_url: str | None, uvicorn_stack: str | None = None) -> Iterator[Servers]:
    data_dir = tempfile.mkdtemp(prefix="botport-bench-")
    emu_port, bp_port, floor_port = free_port(), free_port(), free_port()
    emu_url = f"http://127.0.0.1:{emu_port}"
    env = {
        **os.environ,
        "BOTPORT_COZE_TOKEN": TOKEN,
        "BOTPORT_COZE_BASE_URL": emu_url,
        "BOTPORT_BOTS": json.dumps(
            [{"slug": "demo", "bot_id": DEMO_BOT_ID}, {"slug": "fast", "bot_id": FAST_BOT_ID}]
        ),
        "BOTPORT_DATA_DIR": data_dir,
        "BOTPORT_PORT": str(bp_port),
        "BOTPORT_LOG_LEVEL": "warning",
    }
    if database_url:
        env["BOTPORT_DATABASE_URL"] = database_url
    key = subprocess.run(
        ["botport", "keys", "create", "bench"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    emulator_cmd = [sys.executable, __file__, "--serve-emulator", str(emu_port)]
    botport_cmd = ["botport", "serve"]
    if uvicorn_stack:
        botport_cmd = [sys.executable, __file__, "--serve-botport", uvicorn_stack]
    floor_cmd = [sys.executable, FLOOR, "--upstream", emu_url, "--port", str(floor_port)]
    try:
        with (
            process(emulator_cmd, env),
            process(botport_cmd, env) as botport,
            process(floor_cmd, env) as floor,
        ):
            wait_up(f"{emu_url}/v1/conversations")
            wait_up(f"http://127.0.0.1:{bp_port}/healthz")
            wait_up(f"http://127.0.0.1:{floor_port}/")
            yield Servers(
                emu_url,
                f"http://127.0.0.1:{floor_port}",
                floor.pid,
                f"http://127.0.0.1:{bp_port}",
                botport.pid,
                key,
            )
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


BOTPORT_PATHS = {
    "/api stream": lambda bot: api_turn(bot, stream=True),
    "/api JSON": lambda bot: api_turn(bot, stream=False),
    "/v1 stream": openai_turn,
    "/v1/responses stream": responses_turn,
}


def latency_round(s: Servers, concurrency: int, turns: int, rows: dict[str, Row]) -> None:
    coze_auth = {"Authorization": f"Bearer {TOKEN}"}
    botport_auth = {"Authorization": f"Bearer {s.key}"}
    direct = measure(coze_turn(DEMO_BOT_ID), s.emulator, coze_auth, turns, concurrency, None)
    floor = measure(coze_turn(DEMO_BOT_ID), s.floor, coze_auth, turns, concurrency, s.floor_pid)
    for name, measured in (("straight to the emulator", direct), ("floor", floor)):
        row = rows.setdefault(f"{name} ×{concurrency}", Row(f"{name} ×{concurrency}"))
        record(row, measured, floor, streamed=True)
    for path, make in BOTPORT_PATHS.items():
        measured = measure(make("demo"), s.botport, botport_auth, turns, concurrency, s.botport_pid)
        row = rows.setdefault(f"botport {path} ×{concurrency}", Row(f"botport {path} ×{concurrency}"))
        record(row, measured, floor, streamed=path != "/api JSON", direct=direct)
        print(f"  {row.case}: first delta p50 {row.cell('first_p50')} ms", file=sys.stderr)


def record(row: Row, m: Measured, floor: Measured, *, streamed: bool, direct: Measured | None = None) -> None:
    if streamed:
        row.add("first_p50", pct([x.first_delta for x in m.samples], 0.5))
        row.add("first_p99", pct([x.first_delta for x in m.samples], 0.99))
        if direct is not None:
            added = pct([x.first_delta for x in m.samples], 0.5) - pct(
                [x.first_delta for x in direct.samples], 0.5
            )
            row.add("first_added", added)
    row.add("total_p50", pct([x.total for x in m.samples], 0.5))
    row.add("total_p99", pct([x.total for x in m.samples], 0.99))
    row.add("cpu", m.cpu_ms_per_turn)
    if m.cpu_ms_per_turn is not None and floor.cpu_ms_per_turn:
        row.add("ratio", m.cpu_ms_per_turn / floor.cpu_ms_per_turn)


def saturation_round(s: Servers, turns: int, rows: dict[str, Row]) -> None:
    coze_auth = {"Authorization": f"Bearer {TOKEN}"}
    botport_auth = {"Authorization": f"Bearer {s.key}"}
    c = SATURATION_CONCURRENCY
    direct = measure(coze_turn(FAST_BOT_ID), s.emulator, coze_auth, turns, c, None)
    floor = measure(coze_turn(FAST_BOT_ID), s.floor, coze_auth, turns, c, s.floor_pid)
    cases = [("straight to the emulator", direct), ("floor", floor)]
    for path in ("/api stream", "/v1 stream", "/v1/responses stream"):
        cases.append(
            (
                f"botport {path}",
                measure(BOTPORT_PATHS[path]("fast"), s.botport, botport_auth, turns, c, s.botport_pid),
            )
        )
    for name, m in cases:
        row = rows.setdefault(name, Row(name))
        row.add("tps", m.turns_per_second)
        row.add("tps_share", m.turns_per_second / floor.turns_per_second)
        row.add("cpu", m.cpu_ms_per_turn)
        if m.cpu_ms_per_turn is not None and floor.cpu_ms_per_turn:
            row.add("ratio", m.cpu_ms_per_turn / floor.cpu_ms_per_turn)
        print(f"  saturation {name}: {m.turns_per_second:.1f} turns/s", file=sys.stderr)


LATENCY_COLUMNS = [
    ("first delta p50", "first_p50", 1),
    ("first delta p99", "first_p99", 1),
    ("added to first delta p50", "first_added", 1),
    ("total p50", "total_p50", 0),
    ("total p99", "total_p99", 0),
    ("CPU/turn", "cpu", 1),
    ("CPU ÷ floor", "ratio", 2),
]
SATURATION_COLUMNS = [
    ("turns/s", "tps", 1),
    ("÷ floor", "tps_share", 2),
    ("CPU/turn (ms)", "cpu", 1),
    ("CPU ÷ floor", "ratio", 2),
]


def table(rows: dict[str, Row], columns: list[tuple[str, str, int]]) -> str:
    lines = [
        "| case | " + " | ".join(title for title, _, _ in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for row in rows.values():
        lines.append(
            f"| {row.case} | " + " | ".join(row.cell(key, digits) for _, key, digits in columns) + " |"
        )
    return "\n".join(lines)


def print_tables(latency: dict[str, Row], saturation: dict[str, Row]) -> None:
    if latency:
        print("\nLatency (the demo bot, ~80 deltas over ~1.2 s); times in ms, CPU in ms per turn\n")
        print(table(latency, LATENCY_COLUMNS))
    if saturation:
        print(f"\nSaturation (a bot with no delays, {SATURATION_CONCURRENCY} at a time)\n")
        print(table(saturation, SATURATION_COLUMNS))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 10, 100])
    parser.add_argument("--turns", type=int, default=0, help="turns per latency case (default: max(20, 2*C))")
    parser.add_argument("--saturation-turns", type=int, default=400, help="0: no saturation run")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="botport's database (default: a SQLite file)")
    parser.add_argument(
        "--uvicorn",
        metavar="LOOP,HTTP",
        help="serve botport on this loop and parser, e.g. asyncio,h11 (default: botport serve's choice)",
    )
    parser.add_argument("--serve-emulator", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-botport", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        serve_emulator(args.serve_emulator)
        return
    if args.serve_botport:
        serve_botport(*args.serve_botport.split(","))
        return
    print(f"$ python bench/bench_gateway.py {' '.join(sys.argv[1:])}\n{machine()}", file=sys.stderr)
    latency: dict[str, Row] = {}
    saturation: dict[str, Row] = {}
    with servers(args.database_url, args.uvicorn) as s:
        for round_ in range(args.rounds):
            print(f"round {round_ + 1} of {args.rounds}", file=sys.stderr)
            for concurrency in args.concurrency:
                latency_round(s, concurrency, args.turns or max(20, 2 * concurrency), latency)
            if args.saturation_turns:
                saturation_round(s, args.saturation_turns, saturation)
    print(f"\n{machine()} (at the end)")
    print_tables(latency, saturation)


if __name__ == "__main__":
    main()
