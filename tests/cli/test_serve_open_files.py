"""``botport serve`` and the open-files limit: every open stream holds two sockets, so the server
raises its soft limit to the hard one, and says so when even that cannot hold the Coze connections
it allows (``BOTPORT_UPSTREAM_MAX_CONNECTIONS``)."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cli_helpers import COMMAND, START_DEADLINE, clean_env

from live_server import free_port

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


def limited(soft: int, hard: int) -> Callable[[], None]:
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def serve_until_up(env: dict[str, str], port: int, preexec: Callable[[], None]) -> tuple[int, str]:
    """Start ``botport serve`` with the given limits; its open-files limit once it answers, and its log."""
    process = subprocess.Popen(
        [*COMMAND, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=preexec,  # only sets a limit before exec
    )
    try:
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        limits = Path(f"/proc/{process.pid}/limits").read_text()
        soft = next(int(line.split()[3]) for line in limits.splitlines() if line.startswith("Max open files"))
    finally:
        process.terminate()
        _, err = process.communicate(timeout=15)
    return soft, err.decode()


def test_serve_raises_its_soft_limit_to_the_hard_one(tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard < 1024:
        pytest.skip(f"the hard limit here ({hard}) leaves nothing to show")
    env = clean_env(tmp_path, BOTPORT_UPSTREAM_MAX_CONNECTIONS="100")
    soft, log = serve_until_up(env, free_port(), limited(256, hard))
    assert soft == hard
    assert "open-files limit" not in log


def test_serve_warns_when_the_limit_cannot_hold_the_connections_it_allows(tmp_path: Path) -> None:
    coze = {"BOTPORT_COZE_TOKEN": "pat_not_used", "BOTPORT_BOT_ID": "7000000000000000001"}
    env = clean_env(tmp_path, BOTPORT_UPSTREAM_MAX_CONNECTIONS="10000", **coze)
    soft, log = serve_until_up(env, free_port(), limited(512, 1024))
    assert soft == 1024
    assert "the open-files limit (1024) holds about 412 streams at once" in log
    assert "BOTPORT_UPSTREAM_MAX_CONNECTIONS (10000)" in log
    # In demo mode Coze runs inside the process: no connections to it, nothing to warn about.
    soft, log = serve_until_up(clean_env(tmp_path / "demo"), free_port(), limited(512, 1024))
    assert soft == 1024 and "open-files limit" not in log
