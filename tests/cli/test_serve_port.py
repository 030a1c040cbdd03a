"""The port ``botport serve`` listens on, as a real process: ``--port 0`` serves on the port the system
gave it and says which (never ``:0``); a port another program listens on is one clear error, at once.
With two workers, port 0 is in test_serve_workers.py (both workers serve the port the banner names)."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cli_helpers import COMMAND, START_DEADLINE, botport_process, clean_env

pytestmark = pytest.mark.live

BANNER = re.compile(r"botport \S+ on http://127\.0\.0\.1:(\d+), 1 worker")


def test_port_0_serves_on_the_port_its_banner_names(tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*COMMAND, "serve", "--port", "0"], env=clean_env(tmp_path), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + START_DEADLINE
        while "Uvicorn running on" not in log_path.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        text = log_path.read_text()
        banner = BANNER.search(text)
        assert banner, text
        port = int(banner[1])
        assert port != 0
        assert f"Uvicorn running on http://127.0.0.1:{port} " in text  # the port uvicorn listens on
        answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert answer.json()["status"] == "ok"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_port_another_program_listens_on_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        ran = botport_process("serve", "--port", str(port), env=clean_env(tmp_path))
        # The address is still the other program's: botport did not take it over.
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    assert ran.returncode == 1
    assert f"botport: cannot listen on 127.0.0.1:{port}: Address already in use" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert "Uvicorn running" not in ran.stderr
