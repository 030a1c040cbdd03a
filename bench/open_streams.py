"""Benchmark (not a test): how many streams botport holds open at once, and what each one costs.

For each N, opens N streaming turns at once through botport's ``/v1/chat/completions`` and, in the same
run, through the floor (bench/floor.py: a bare streaming pass-through), in two scenarios:

- ``slow``: the emulator's Slow demo bot (1 s before its first event, then a word every 0.2 s, ~13 s);
- ``idle``: the demo bot, silent for 30 s before its first event (an idle upstream: the stream is open
  and nothing flows; botport only sends its keep-alive comments).

Every case (N, scenario, target) gets a fresh emulator and a fresh server, so the server's RSS and CPU
are its own. Reports per case: streams completed, errors by kind, time to the response headers and to
the first delta (p50 / p99), total time, the most streams open at once, the server's RSS (sampled
every 0.2 s) idle and at peak, RSS per open stream, and the server's CPU seconds.

botport runs with its default settings, except those that point it at the emulator (which serves one
extra bot for the idle scenario: botport does not forward the emulator's ``X-Emulator-Fault`` header,
so the delay is set per bot), a temporary data dir and the log level (warning, as in bench_gateway.py).
The clients run in separate processes (``--clients``): one Python process cannot read thousands of
streams at once without becoming the bottleneck itself. A stream is an error when it fails, reports a
failure, ends without its end marker, or stays silent for 120 s (botport's own read timeout), the wait
for its response headers included.

    python bench/open_streams.py                   # 500 1000 2000 5000 streams, slow and idle
    python bench/open_streams.py --quick           # 100 and 200 streams
    python bench/open_streams.py --streams 1000 --scenarios idle
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import IO, Any

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_gateway import FLOOR, QUESTION, TOKEN, cpu_seconds, free_port, wait_up

from botport.emulator.bots import DEMO_BOT_ID, SLOW_BOT_ID

IDLE_BOT_ID = "7000000000000000009"  # served only by this bench's emulator (serve_emulator)
IDLE_FIRST_DELAY = 30.0
SCENARIOS = {"slow": SLOW_BOT_ID, "idle": IDLE_BOT_ID}  # the scenario is also botport's model (slug)
RSS_INTERVAL = 0.2
LOG_TAIL_LINES = 40


# --- the servers ------------------------------------------------------------------------------------


def serve_emulator(port: int) -> None:
    """``botport emulator``, plus the idle bot: the demo bot, silent for 30 s before its first event."""
    import uvicorn

    from botport.emulator.app import create_emulator_app
    from botport.emulator.bots import DEMO_BOTS

    demo = next(bot for bot in DEMO_BOTS if bot.id == DEMO_BOT_ID)
    idle = replace(
        demo, id=IDLE_BOT_ID, name="Idle demo", faults=replace(demo.faults, first_delay=IDLE_FIRST_DELAY)
    )
    app = create_emulator_app([TOKEN], bots=[*DEMO_BOTS, idle])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


@contextmanager
def logged_process(cmd: list[str], env: dict[str, str], log: IO[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """bench_gateway's ``process``, but its output kept: it says why a server failed."""
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def botport_env(emu_url: str, port: int, data_dir: str) -> dict[str, str]:
    bots = [{"slug": "demo", "bot_id": DEMO_BOT_ID}] + [
        {"slug": slug, "bot_id": bot_id} for slug, bot_id in SCENARIOS.items()
    ]
    return {
        **os.environ,
        "BOTPORT_COZE_TOKEN": TOKEN,
        "BOTPORT_COZE_BASE_URL": emu_url,
        "BOTPORT_BOTS": json.dumps(bots),
        "BOTPORT_DATA_DIR": data_dir,
        "BOTPORT_PORT": str(port),
        "BOTPORT_LOG_LEVEL": "warning",
    }


@dataclass(frozen=True)
class Target:
    """Where a stream is opened and how its bytes are read (Coze's SSE through the floor, OpenAI's
    through botport). Picklable: the client processes get it."""

    name: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    delta: bytes  # a regex: the first answer or reasoning text
    done: bytes  # the stream ran to its end
    error: bytes  # the stream reports a failure


def floor_target(url: str, bot_id: str) -> Target:
    body = {
        "bot_id": bot_id,
        "user_id": "bench",
        "stream": True,
        "additional_messages": [{"role": "user", "content": QUESTION, "content_type": "text"}],
    }
    return Target(
        name="floor",
        url=f"{url}/v3/chat",
        headers={"Authorization": f"Bearer {TOKEN}"},
        body=body,
        delta=rb"event:conversation\.message\.delta",
        done=b"event:done",
        error=b"event:error",
    )


def botport_target(url: str, key: str, model: str) -> Target:
    body = {"model": model, "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    return Target(
        name="botport",
        url=f"{url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        body=body,
        # The role chunk carries "content":"" first: a delta is non-empty text.
        delta=rb'"(?:reasoning_)?content":"[^"]',
        done=b"data: [DONE]",
        error=b'data: {"error"',
    )


@dataclass
class Servers:
    emulator: subprocess.Popen[bytes]
    server: subprocess.Popen[bytes]
    target: Target
    warmup: Target  # the same server with the fast demo bot
    log_path: str


@contextmanager
def start_servers(kind: str, scenario: str, workdir: str) -> Iterator[Servers]:
    """A fresh emulator and a fresh floor or botport in front of it."""
    emu_port, port = free_port(), free_port()
    emu_url, url = f"http://127.0.0.1:{emu_port}", f"http://127.0.0.1:{port}"
    data_dir = tempfile.mkdtemp(prefix="data-", dir=workdir)
    env = botport_env(emu_url, port, data_dir)
    emu_cmd = [sys.executable, os.path.abspath(__file__), "--serve-emulator", str(emu_port)]
    log_path = os.path.join(workdir, f"{kind}-{scenario}-{port}.log")
    with ExitStack() as stack:
        emu_log = stack.enter_context(open(os.path.join(workdir, f"emulator-{emu_port}.log"), "wb"))
        log = stack.enter_context(open(log_path, "wb"))
        emulator = stack.enter_context(logged_process(emu_cmd, env, emu_log))
        wait_up(f"{emu_url}/v1/conversations")
        if kind == "floor":
            cmd = [sys.executable, FLOOR, "--upstream", emu_url, "--port", str(port)]
            server = stack.enter_context(logged_process(cmd, env, log))
            wait_up(f"{url}/")
            target, warmup = floor_target(url, SCENARIOS[scenario]), floor_target(url, DEMO_BOT_ID)
        else:
            key = subprocess.run(
                ["botport", "keys", "create", "bench"], env=env, check=True, capture_output=True, text=True
            ).stdout.strip()
            server = stack.enter_context(logged_process(["botport", "serve"], env, log))
            wait_up(f"{url}/healthz")
            target, warmup = botport_target(url, key, scenario), botport_target(url, key, "demo")
        yield Servers(emulator, server, target, warmup, log_path)


# --- measuring the server ---------------------------------------------------------------------------


def listen_overflows() -> int:
    """Connections the kernel turned away because a listen queue was full (all servers here; the
    client tries again a second or more later, which shows as time to first byte)."""
    with open("/proc/net/netstat") as fh:
        names, values = [line.split() for line in fh if line.startswith("TcpExt:")][:2]
    return int(values[names.index("ListenOverflows")])


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """The peak RSS of a process, sampled in a thread while the streams run."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            self.peak = max(self.peak, rss_mb(self.pid))
        except (FileNotFoundError, ProcessLookupError):  # the server died: its log says why
            self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(RSS_INTERVAL):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# --- the clients ------------------------------------------------------------------------------------


@dataclass
class Stream:
    """One stream's times, on the monotonic clock (shared by all processes on Linux)."""

    started: float
    ended: float = 0.0
    headers: float | None = None  # response headers received
    first_delta: float | None = None
    error: str | None = None  # its kind; None: read to its end


def _error_code(text: bytes) -> str:
    found = re.search(rb'"code": ?"?([\w.-]+)', text)
    return f" {found.group(1).decode()}" if found else ""


async def read_stream(client: httpx.AsyncClient, target: Target, stream: Stream) -> None:
    delta = re.compile(target.delta)
    async with client.stream("POST", target.url, json=target.body, headers=target.headers) as response:
        stream.headers = time.monotonic()
        if response.status_code != 200:
            stream.error = f"HTTP {response.status_code}{_error_code(await response.aread())}"
            return
        tail = b""  # a marker may straddle two chunks
        async for chunk in response.aiter_raw():
            seen = tail + chunk
            if stream.first_delta is None and delta.search(seen):
                stream.first_delta = time.monotonic()
            if target.error in seen:
                stream.error = f"stream error{_error_code(seen[seen.index(target.error) :])}"
            tail = seen[-64:]
        if stream.error is None and target.done not in tail:
            stream.error = "ended without done"


async def one_stream(client: httpx.AsyncClient, target: Target, deadline: float) -> Stream:
    stream = Stream(started=time.monotonic())
    try:
        async with asyncio.timeout(deadline):
            await read_stream(client, target, stream)
    except TimeoutError:
        stream.error = stream.error or f"case deadline ({deadline:.0f} s)"
    except httpx.HTTPError as exc:
        stream.error = f"{type(exc).__name__} {'in body' if stream.headers else 'before headers'}"
    stream.ended = time.monotonic()
    return stream


async def open_streams(target: Target, n: int, deadline: float) -> list[Stream]:
    # Every stream holds its own connection for its whole life; waits are bounded by the deadline.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    timeout = httpx.Timeout(120, pool=None)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        return list(await asyncio.gather(*(one_stream(client, target, deadline) for _ in range(n))))


def client_process(target: Target, n: int, deadline: float, barrier: Any, results: Any) -> None:
    barrier.wait()  # all client processes open their streams at the same moment
    cpu = time.process_time()
    streams = asyncio.run(open_streams(target, n, deadline))
    results.put((time.process_time() - cpu, streams))


def drive(target: Target, n: int, clients: int, deadline: float) -> tuple[float, list[Stream]]:
    """N streams at once, split over client processes (spawned: no threads or sockets inherited)."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(clients + 1), ctx.Queue()
    shares = [n // clients + (i < n % clients) for i in range(clients)]
    procs = [
        ctx.Process(target=client_process, args=(target, share, deadline, barrier, results))
        for share in shares
    ]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=60)
        # Read before joining: a process does not exit while its results sit in the pipe.
        parts = [results.get(timeout=deadline + 60) for _ in procs]
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
    return sum(cpu for cpu, _ in parts), [s for _, streams in parts for s in streams]


def warm_up(target: Target) -> None:
    """One turn first: imports, connections and caches that every later turn shares."""
    stream = asyncio.run(open_streams(target, 1, 60))[0]
    if stream.error:
        raise RuntimeError(f"warm-up turn through {target.name} failed: {stream.error}")


# --- one case and its row ---------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def most_open(streams: list[Stream]) -> int:
    """The most streams open at the same time (response headers received, not yet ended)."""
    edges = sorted(
        [(s.headers, 1) for s in streams if s.headers] + [(s.ended, -1) for s in streams if s.headers]
    )
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


@dataclass
class Row:
    n: int
    scenario: str
    target: str
    completed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    ttfb: list[float] = field(default_factory=list)
    first_delta: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    most_open: int = 0
    idle_rss: float = 0.0
    peak_rss: float = 0.0
    cpu: float = 0.0
    emulator_cpu: float = 0.0
    client_cpu: float = 0.0
    listen_overflows: int = 0
    wall: float = 0.0
    server_exit: int | None = None


def summarize(row: Row, streams: list[Stream]) -> None:
    for s in streams:
        if s.error:
            row.errors[s.error] += 1
        else:
            row.completed += 1
        if s.headers:
            row.ttfb.append(s.headers - s.started)
        if s.first_delta:
            row.first_delta.append(s.first_delta - s.started)
        if not s.error:
            row.total.append(s.ended - s.started)
    row.most_open = most_open(streams)


def run_case(n: int, scenario: str, kind: str, clients: int, deadline: float, workdir: str) -> Row:
    row = Row(n, scenario, kind)
    with start_servers(kind, scenario, workdir) as servers:
        pid, emu_pid = servers.server.pid, servers.emulator.pid
        warm_up(servers.warmup)
        time.sleep(1)  # let the warm-up turn's aftermath (checkpoints, keep-alive) settle
        row.idle_rss = rss_mb(pid)
        cpu_before, emu_before = cpu_seconds(pid), cpu_seconds(emu_pid)
        overflows, start = listen_overflows(), time.monotonic()
        with RssSampler(pid) as rss:
            row.client_cpu, streams = drive(servers.target, n, clients, deadline)
        row.wall = time.monotonic() - start
        row.cpu = cpu_seconds(pid) - cpu_before if servers.server.poll() is None else math.nan
        row.emulator_cpu = cpu_seconds(emu_pid) - emu_before
        row.listen_overflows = listen_overflows() - overflows
        row.peak_rss = rss.peak
        row.server_exit = servers.server.poll()
        summarize(row, streams)
    if row.errors or row.server_exit is not None:
        print_log_tail(servers.log_path, row)
    return row


def print_log_tail(path: str, row: Row) -> None:
    with open(path, errors="replace") as fh:
        lines = fh.readlines()[-LOG_TAIL_LINES:]
    print(f"--- {row.target} log, N={row.n} {row.scenario} (last {len(lines)} lines) ---", file=sys.stderr)
    print("".join(lines), end="", file=sys.stderr)
    print("--- end of log ---", file=sys.stderr)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def errors_cell(errors: Counter[str]) -> str:
    if not errors:
        return "0"
    kinds = ", ".join(f"{kind}: {count}" for kind, count in errors.most_common())
    return f"{sum(errors.values())} ({kinds})"


COLUMNS = [
    "N", "scenario", "target", "completed", "errors", "TTFB p50/p99 ms", "first delta p50/p99 s",
    "total p50 s", "most open", "RSS idle MB", "RSS peak MB", "KB/stream", "CPU s",
    "emulator / clients CPU s", "listen overflows", "wall s",
]  # fmt: skip


def cells(row: Row) -> list[str]:
    per_stream = (row.peak_rss - row.idle_rss) * 1024 / row.n
    crashed = f" (server exited {row.server_exit})" if row.server_exit is not None else ""
    return [
        str(row.n),
        row.scenario,
        row.target + crashed,
        str(row.completed),
        errors_cell(row.errors),
        f"{_ms(pct(row.ttfb, 0.5))} / {_ms(pct(row.ttfb, 0.99))}",
        f"{_s(pct(row.first_delta, 0.5))} / {_s(pct(row.first_delta, 0.99))}",
        _s(pct(row.total, 0.5)),
        str(row.most_open),
        f"{row.idle_rss:.0f}",
        f"{row.peak_rss:.0f}",
        f"{per_stream:.0f}",
        f"{row.cpu:.1f}",
        f"{row.emulator_cpu:.1f} / {row.client_cpu:.1f}",
        str(row.listen_overflows),
        f"{row.wall:.0f}",
    ]


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    return "\n".join(lines)


# --- the run ----------------------------------------------------------------------------------------


def raise_fd_limit() -> int:
    """Every stream is a socket in the client, two in botport (client and Coze sides), one in the
    emulator: raise the soft limit to the hard one. The servers, as subprocesses, inherit it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def upstream_max_connections() -> int:
    """The size of botport's pool of connections to Coze, as botport reads it from the environment."""
    from botport.settings import Settings

    return Settings().upstream_max_connections


def machine() -> str:
    with open("/proc/meminfo") as fh:
        total_kb = int(fh.readline().split()[1])
    return f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {total_kb / 1024**2:.1f} GiB RAM"


def botport_version() -> str:
    """The commit under test; src/ may hold uncommitted changes (an editable install runs them)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    git = ["git", "-C", repo]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True)
    changed = " + uncommitted changes in src/" if dirty.stdout.strip() else ""
    return f"{commit.stdout.strip() or 'unknown'}{changed}"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, nargs="+", default=[500, 1000, 2000, 5000])
    parser.add_argument("--quick", action="store_true", help="a short check: 100 and 200 streams")
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--targets", nargs="+", choices=["floor", "botport"], default=["floor", "botport"])
    parser.add_argument(
        "--clients", type=int, default=0, help="client processes (default: one per 1,000 streams)"
    )
    parser.add_argument("--deadline", type=float, default=300, help="seconds a case may take at most")
    parser.add_argument("--keep", action="store_true", help="keep the servers' logs and databases")
    parser.add_argument("--serve-emulator", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        serve_emulator(args.serve_emulator)
        return
    streams = [100, 200] if args.quick else args.streams

    fd_limit = raise_fd_limit()
    command = shlex.join(["python", os.path.relpath(__file__), *sys.argv[1:]])
    print(f"command: {command}", file=sys.stderr)
    print(f"machine: {machine()}; load average at start: {load_average()}", file=sys.stderr)
    print(f"botport: {botport_version()}", file=sys.stderr)
    print(f"RLIMIT_NOFILE: soft = hard = {fd_limit}", file=sys.stderr)
    print(f"botport upstream_max_connections: {upstream_max_connections()}", file=sys.stderr)

    workdir = tempfile.mkdtemp(prefix="botport-open-streams-")
    rows = []
    try:
        for n in streams:
            clients = args.clients or math.ceil(n / 1000)
            for scenario in args.scenarios:
                for kind in args.targets:
                    row = run_case(n, scenario, kind, clients, args.deadline, workdir)
                    rows.append(row)
                    print(markdown([row]).splitlines()[-1], file=sys.stderr)
    finally:
        if args.keep:
            print(f"logs and databases kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n## Open streams: botport beside the floor\n\ncommand: `{command}`  ")
    print(f"machine: {machine()}; load average at the end: {load_average()}  ")
    print(f"botport: {botport_version()}  ")
    print(
        f"RLIMIT_NOFILE {fd_limit}; botport upstream_max_connections {upstream_max_connections()}; ", end=""
    )
    print(f"client processes: {args.clients or 'one per 1,000 streams'}\n")
    print(markdown(rows))
    print(
        "\nTTFB: response headers. first delta: the first answer or reasoning text. total: completed "
        "streams only. most open: streams open at once (headers received, not ended). KB/stream: "
        "(peak RSS - idle RSS) / N. CPU s: the server process's user + system time during the case "
        "(the emulator's and the client processes' beside it: they share the same cores). listen "
        "overflows: connections the kernel refused for a full accept queue during the case."
    )


if __name__ == "__main__":
    main()
