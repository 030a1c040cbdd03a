"""The port ``botport serve`` and ``botport emulator`` listen on, as real processes: ``--port 0`` serves
on the port the system gave it and says which (never ``:0``); an IPv6 address is named in brackets; a
port another program listens on is one clear error, at once. With two workers, port 0 is in
test_serve_workers.py (both workers serve the port the banner names)."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_helpers import COMMAND, START_DEADLINE, botport_process, clean_env

pytestmark = pytest.mark.live


@contextlib.contextmanager
def announced(tmp_path: Path, *args: str, banner: str) -> Iterator[re.Match[str]]:
    """``botport ARGS``, once it listens: the match of ``banner`` in what it printed. Stopped after."""
    log_path = tmp_path / "command.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([*COMMAND, *args], env=clean_env(tmp_path), stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            found = re.search(banner, log_path.read_text())
            ready = found and ("Uvicorn running" in log_path.read_text() or args[0] == "emulator")
            if ready:
                break
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        assert found
        yield found
    finally:
        process.terminate()
        process.wait(timeout=20)


def _answers(url: str, **headers: str) -> httpx.Response:
    deadline = time.monotonic() + START_DEADLINE
    while True:
        try:
            return httpx.get(url, headers=headers, timeout=10)
        except httpx.ConnectError:  # the emulator prints its line before uvicorn listens
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_port_0_serves_on_the_port_its_banner_names(tmp_path: Path) -> None:
    banner = r"botport \S+ on http://127\.0\.0\.1:(\d+), 1 worker"
    with announced(tmp_path, "serve", "--port", "0", banner=banner) as found:
        port = int(found[1])
        assert port != 0
        assert f"Uvicorn running on http://127.0.0.1:{port} " in (tmp_path / "command.log").read_text()
        assert _answers(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok"


def test_the_emulator_on_port_0_names_its_port(tmp_path: Path) -> None:
    banner = r"Coze emulator on http://127\.0\.0\.1:(\d+) "
    with announced(tmp_path, "emulator", "--port", "0", "--token", "t", banner=banner) as found:
        port = int(found[1])
        assert port != 0
        answer = _answers(f"http://127.0.0.1:{port}/v1/bots/7000000000000000001", Authorization="Bearer t")
        assert answer.json()["code"] == 0


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_address_is_named_in_brackets(tmp_path: Path) -> None:
    with announced(
        tmp_path, "serve", "--host", "::1", "--port", "0", banner=r"on http://\[::1\]:(\d+), "
    ) as found:
        assert _answers(f"http://[::1]:{found[1]}/healthz").json()["status"] == "ok"


def test_a_port_another_program_listens_on_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        ran = botport_process("serve", "--port", str(port), env=clean_env(tmp_path))
        emulator = botport_process("emulator", "--port", str(port), env=clean_env(tmp_path))
        # The address is still the other program's: botport did not take it over.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    for command in (ran, emulator):
        assert command.returncode == 1
        assert f"botport: cannot listen on 127.0.0.1:{port}: Address already in use" in command.stderr
        assert "Traceback" not in command.stderr
    assert "Uvicorn running" not in ran.stderr
