"""``botport serve --workers N``: how many workers and why, and real worker processes sharing turns.

The worker processes are real (``botport serve`` as a subprocess, uvicorn's own supervisor). Which
worker serves a request is read from the kernel, not from the API: the server side of the request's
TCP connection is a socket whose inode one worker holds among its open files (Linux ``/proc``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from cli_helpers import COMMAND, START_DEADLINE, botport, clean_env

from botport import __version__
from botport.chat.redis_logs import stream_key
from botport.emulator.bots import DEMO_BOT_ID, SLOW_BOT_ID
from botport.emulator.faults import Faults
from botport.settings import Settings
from botport.store.migrations import MIGRATIONS
from botport.workers import WorkerPlan, WorkersRefused, available_cores, plan_workers
from gateway.gateway_helpers import TOKEN, FrameReader, emulator, text_deltas
from live_server import LiveServer, free_port

REDIS_URL = os.environ.get("BOTPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG = "postgresql://postgres@db.internal/botport"
SQLITE = "sqlite:///tmp/botport.db"
TIMEOUT = httpx.Timeout(30.0)
SLOW_PROMPT = "/slow a long slow answer"  # 0.3 s a word: always stopped before its end

# --- how many workers, and why --------------------------------------------------------------------


def plan(cores: int = 4, **values: Any) -> WorkerPlan:
    return plan_workers(Settings(**{"coze_token": "pat_x", "bot_id": "7", **values}), cores=cores)


@pytest.mark.parametrize(
    ("values", "count", "reason"),
    [
        (
            {"database_url": PG, "redis_url": REDIS_URL},
            4,
            "4 workers: one per core (PostgreSQL and Redis are shared)",
        ),
        (
            {},
            1,
            "1 worker: SQLite without Redis; set BOTPORT_DATABASE_URL=postgresql://… and BOTPORT_REDIS_URL "
            "to use all 4 cores",
        ),
        (
            {"redis_url": REDIS_URL},
            1,
            "1 worker: SQLite; set BOTPORT_DATABASE_URL=postgresql://… to use all 4 cores",
        ),
        (
            {"database_url": PG},
            1,
            "1 worker: PostgreSQL without Redis; set BOTPORT_REDIS_URL to use all 4 cores",
        ),
        (
            {"database_url": PG, "redis_url": REDIS_URL, "coze_token": None},
            1,
            "1 worker: demo mode (the built-in emulator runs inside the process); set BOTPORT_COZE_TOKEN "
            "to use all 4 cores",
        ),
        (
            {"coze_token": None},
            1,
            "1 worker: demo mode (the built-in emulator runs inside the process); set BOTPORT_COZE_TOKEN, "
            "BOTPORT_DATABASE_URL=postgresql://…, BOTPORT_REDIS_URL to use all 4 cores",
        ),
    ],
    ids=["postgres+redis", "sqlite", "sqlite+redis", "postgres", "demo+postgres+redis", "demo"],
)
def test_default_count_and_why(values: dict[str, Any], count: int, reason: str) -> None:
    chosen = plan(**values)
    assert (chosen.count, chosen.reason, chosen.warning) == (count, reason, None)


def test_default_on_one_core_is_one_worker() -> None:
    assert plan(cores=1).reason == "1 worker: one core"
    assert plan(cores=1, database_url=PG, redis_url=REDIS_URL).reason == (
        "1 worker: one per core (PostgreSQL and Redis are shared)"
    )


def test_asked_for_count_is_kept() -> None:
    assert plan(workers=3, database_url=PG, redis_url=REDIS_URL) == WorkerPlan(
        3, "3 workers, as asked (4 cores)"
    )
    assert plan(workers=8, cores=2, database_url="postgres://db/botport", redis_url=REDIS_URL).count == 8
    # One worker is always possible, whatever is shared.
    assert plan(workers=1) == WorkerPlan(1, "1 worker, as asked")
    assert plan(workers=1, coze_token=None).count == 1


def test_postgres_without_redis_is_allowed_with_a_warning() -> None:
    chosen = plan(workers=2, database_url=PG)
    assert chosen.count == 2
    assert chosen.warning is not None
    assert "Stop there goes through Coze's cancel" in chosen.warning
    assert "BOTPORT_REDIS_URL" in chosen.warning


@pytest.mark.parametrize(
    ("values", "needs"),
    [
        ({"database_url": SQLITE, "redis_url": REDIS_URL}, "needs PostgreSQL"),
        ({"database_url": "sqlite://"}, "needs PostgreSQL"),  # in memory: one database per process
        ({}, "needs PostgreSQL"),
        ({"database_url": PG, "redis_url": REDIS_URL, "coze_token": None}, "needs a Coze token"),
    ],
    ids=["sqlite+redis", "sqlite-memory", "sqlite-default", "demo"],
)
def test_more_than_one_worker_without_what_they_need_is_refused(values: dict[str, Any], needs: str) -> None:
    with pytest.raises(WorkersRefused, match=f"--workers 2 {needs}"):
        plan(workers=2, **values)


def test_workers_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTPORT_WORKERS", "3")
    assert Settings().workers == 3
    monkeypatch.setenv("BOTPORT_WORKERS", "0")
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Settings()


def test_available_cores_is_this_process_s_share() -> None:
    assert 1 <= available_cores() <= (os.cpu_count() or 1)


# --- the command ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "needs"),
    [
        ({"BOTPORT_COZE_TOKEN": TOKEN, "BOTPORT_BOT_ID": DEMO_BOT_ID}, "needs PostgreSQL"),
        ({}, "needs a Coze token"),
    ],
    ids=["sqlite", "demo"],
)
def test_serve_refuses_workers_it_cannot_share_state_between(
    tmp_path: Path, extra: dict[str, str], needs: str
) -> None:
    result = botport("serve", "--workers", "2", "--port", str(free_port()), env=clean_env(tmp_path, **extra))
    assert result.returncode == 2, result.stderr
    assert f"botport: --workers 2 {needs}" in result.stderr
    assert "Uvicorn running" not in result.stderr


def test_serve_by_default_runs_one_worker_and_says_why(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(tmp_path, BOTPORT_COZE_TOKEN=TOKEN, BOTPORT_BOT_ID=DEMO_BOT_ID, BOTPORT_PORT=str(port))
    with started(env, tmp_path / "serve.log") as server:
        cores = available_cores()
        hint = "BOTPORT_DATABASE_URL=postgresql://… and BOTPORT_REDIS_URL"
        expected = (
            "1 worker: one core"
            if cores == 1
            else f"SQLite without Redis; set {hint} to use all {cores} cores"
        )
        assert expected in server.log()
        assert f"botport {__version__} on http://127.0.0.1:{port}, 1 worker  [" in server.log()
        assert server.workers() == set()  # served by this process, as before


# --- two real workers on PostgreSQL and Redis ----------------------------------------------------


@dataclass
class Serving:
    process: subprocess.Popen[bytes]
    url: str
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def workers(self) -> set[int]:
        """The worker processes uvicorn spawned (multiprocessing also starts a resource tracker)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(child) for child in children if b"spawn_main" in _cmdline(int(child))}

    def worker_of(self, response: httpx.Response) -> int:
        """The worker at the other end of the response's connection (which must still be open)."""
        client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        inode = _server_socket_inode(self.port, client_port)
        for pid in self.workers():
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                        return pid
                except FileNotFoundError:  # closed while we looked
                    continue
        raise AssertionError(f"no worker holds the connection from port {client_port}")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _server_socket_inode(server_port: int, client_port: int) -> str:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
            if (local, remote) == (server_port, client_port):
                return fields[9]
    raise AssertionError(f"no server socket for the connection from port {client_port}")


@contextmanager
def started(env: dict[str, str], log_path: Path, *args: str, workers: int = 1) -> Iterator[Serving]:
    """``botport serve`` with ``args``, up once its ``workers`` started; stopped with SIGTERM after. Its
    port is the one its banner names (BOTPORT_PORT=0: the one the system gave it)."""
    with log_path.open("wb") as log:
        process = subprocess.Popen([*COMMAND, "serve", *args], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while log_path.read_text(errors="replace").count("Application startup complete.") < workers:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"botport serve did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        banner = re.search(r"botport \S+ on http://127\.0\.0\.1:(\d+), ", log_path.read_text())
        assert banner, log_path.read_text()
        port = int(banner[1])
        assert env["BOTPORT_PORT"] in ("0", str(port))
        server = Serving(process, f"http://127.0.0.1:{port}", port, log_path)
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def coze() -> Iterator[str]:
    """One Coze for every worker: the emulator on loopback (the /slow question takes ~12 s)."""
    server = LiveServer(emulator({"slow": Faults(delta_delay=0.01)})).start()
    try:
        yield server.url
    finally:
        server.stop()


class Browser:
    """One browser (one cookie jar) whose connections land on whichever worker accepts them first.
    :meth:`on` gives a client whose one kept-alive connection a given worker holds."""

    def __init__(self, server: Serving, stack: AsyncExitStack) -> None:
        self.server = server
        self.stack = stack
        self.cookies = httpx.Cookies()

    async def on(self, worker: int) -> httpx.AsyncClient:
        for _ in range(200):
            client = httpx.AsyncClient(
                base_url=self.server.url,
                timeout=TIMEOUT,
                limits=httpx.Limits(max_connections=1),
                cookies=self.cookies,
            )
            self.stack.push_async_callback(client.aclose)
            response = await client.get("/api/config")  # the first one gets the identity cookie
            assert response.status_code == 200, response.text
            self.cookies.update(response.cookies)
            if self.server.worker_of(response) == worker:
                return client
            await client.aclose()
        raise AssertionError(f"200 connections did not reach worker {worker}")


def runner_pid(postgres_url: str, message_id: str) -> int:
    """The process that ran a turn, from its lease (``host:pid:random``) in the database."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute("SELECT runner FROM messages WHERE id = %s", (message_id,)).fetchone()
    assert row is not None and row[0], row
    return int(row[0].split(":")[-2])


@pytest.mark.live
@pytest.mark.postgres
@pytest.mark.skipif(sys.platform != "linux", reason="reads which worker holds a connection from /proc")
async def test_two_workers_serve_share_and_stop_each_other_s_turns(
    tmp_path: Path, postgres_url: str, redis_client: redis.Redis, coze: str
) -> None:
    config = tmp_path / "botport.toml"
    config.write_text(
        f'turn_timeout = 60.0\n[[bots]]\nslug = "slow"\nbot_id = "{SLOW_BOT_ID}"\nname = "From the file"\n'
    )
    env = clean_env(
        tmp_path / "data",
        BOTPORT_COZE_TOKEN=TOKEN,
        BOTPORT_COZE_BASE_URL=coze,
        BOTPORT_DATABASE_URL=postgres_url,
        BOTPORT_REDIS_URL=REDIS_URL,
        BOTPORT_PORT="0",  # the system's choice, shared by both workers (the banner names it)
    )
    message_ids: list[str] = []
    with started(env, tmp_path / "serve.log", "--workers", "2", "--config", str(config), workers=2) as server:
        log = server.log()
        assert "2 workers, as asked" in log and ", 2 workers  [http://127.0.0.1:" in log
        # The parent migrated the blank schema once, before the workers started.
        for name, _ in MIGRATIONS:
            assert log.count(f"applying database migration {name}") == 1, log
        workers = server.workers()
        assert len(workers) == 2

        async with AsyncExitStack() as stack:
            browser = Browser(server, stack)
            worker_a, worker_b = sorted(workers)
            on_a, on_b = await browser.on(worker_a), await browser.on(worker_b)
            # Both workers loaded the config file (the bot exists only there).
            for client in (on_a, on_b):
                bots = (await client.get("/api/config")).json()["bots"]
                assert [(bot["slug"], bot["name"]) for bot in bots] == [("slow", "From the file")]

            created = await on_a.post("/api/conversations", json={"bot": "slow"})
            assert created.status_code == 201, created.text
            cid = created.json()["id"]

            # A turn runs on worker A...
            body = {"content": SLOW_PROMPT}
            response = await stack.enter_async_context(
                on_a.stream("POST", f"/api/conversations/{cid}/messages", json=body)
            )
            assert response.status_code == 200
            assert server.worker_of(response) == worker_a
            message_id = response.headers["X-Botport-Message-Id"]
            message_ids.append(message_id)
            on_a_reader = FrameReader(response)
            await on_a_reader.until(text_deltas(2))
            assert runner_pid(postgres_url, message_id) == worker_a
            seen = on_a_reader.frames[-1].id

            # ...worker B follows it live from where A's client was...
            following = await stack.enter_async_context(
                on_b.stream("GET", f"/api/messages/{message_id}/events", params={"after": seen})
            )
            assert following.status_code == 200
            assert server.worker_of(following) == worker_b
            on_b_reader = FrameReader(following)
            await on_b_reader.until(text_deltas(1))
            assert on_b_reader.frames[0].id == seen + 1

            # ...and stops it.
            cancel = await (await browser.on(worker_b)).post(f"/api/conversations/{cid}/cancel")
            assert server.worker_of(cancel) == worker_b
            assert cancel.json() == {"cancelled": True}
            await asyncio.wait_for(asyncio.gather(on_a_reader.rest(), on_b_reader.rest()), timeout=5)
            for reader in (on_a_reader, on_b_reader):
                assert reader.frames[-1].event == "error"
                assert reader.frames[-1].data["code"] == "cancelled"
            assert on_a_reader.text.endswith(on_b_reader.text)

            # The next turn runs on worker B, in the same Coze conversation.
            answer = await (await browser.on(worker_b)).post(
                f"/api/conversations/{cid}/messages", json={"content": "short one", "stream": False}
            )
            assert answer.status_code == 200, answer.text
            assert server.worker_of(answer) == worker_b
            assert answer.json()["status"] == "completed" and "Turn 2." in answer.json()["content"]
            message_ids.append(answer.json()["id"])
            assert runner_pid(postgres_url, answer.json()["id"]) == worker_b

    # SIGTERM to the parent ended it and both workers.
    assert server.process.returncode == 0, server.log()
    assert all(not _cmdline(pid) for pid in workers)
    redis_client.delete(*(stream_key(message_id) for message_id in message_ids))


@pytest.mark.live
@pytest.mark.postgres
@pytest.mark.skipif(sys.platform != "linux", reason="the kernel ends the workers (PR_SET_PDEATHSIG)")
def test_workers_without_redis_warn_and_die_with_a_killed_parent(
    tmp_path: Path, postgres_url: str, coze: str
) -> None:
    env = clean_env(
        tmp_path / "data",
        BOTPORT_COZE_TOKEN=TOKEN,
        BOTPORT_COZE_BASE_URL=coze,
        BOTPORT_BOT_ID=SLOW_BOT_ID,
        BOTPORT_DATABASE_URL=postgres_url,
        BOTPORT_WORKERS="2",
        BOTPORT_PORT="0",
    )
    with started(env, tmp_path / "serve.log", workers=2) as server:
        assert "WARNING botport.serve: workers without Redis" in server.log()
        workers = server.workers()
        assert len(workers) == 2
        server.process.kill()
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_cmdline(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_cmdline(pid) for pid in workers), "a worker outlived its killed parent"
        # An exiting process loses its cmdline before its sockets: a connection may still be taken
        # and reset for a moment. Never answered, and soon refused.
        refused = False
        while not refused and time.monotonic() < deadline + 5:
            try:
                response = httpx.get(f"{server.url}/healthz", timeout=2)
            except httpx.ConnectError:
                refused = True
            except (httpx.ReadError, httpx.RemoteProtocolError):
                time.sleep(0.05)
            else:
                raise AssertionError(f"a dead server answered {response.status_code}")
        assert refused, "the port still takes connections after the server died"


# --- migrations from several processes at once ----------------------------------------------------

MIGRATE = """
import asyncio, json, sys, time
from botport.store import Database

async def main() -> None:
    db = Database(sys.argv[1])
    time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # every process starts together
    try:
        print(json.dumps(await db.start()))
    finally:
        await db.close()

asyncio.run(main())
"""


def test_processes_starting_at_once_migrate_a_blank_database_once(database_url: str) -> None:
    """What N workers (or instances) starting together do: one applies every step, the others none."""
    start_at = str(time.time() + 1.0)  # after every interpreter has imported botport
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, database_url, start_at], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0]
    applied = sorted(json.loads(output) for output in outputs)
    assert applied == [[], [], [], [name for name, _ in MIGRATIONS]]
