"""``botport emulator`` as a real process: it serves Coze's API, with the poll limit on unless asked."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_helpers import COMMAND, START_DEADLINE, clean_env

from botport.emulator.bots import SLOW_BOT_ID
from live_server import free_port

pytestmark = pytest.mark.live


@contextlib.contextmanager
def _emulator(tmp_path: Path, *flags: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [*COMMAND, "emulator", "--port", str(port), "--token", "t", *flags],
        env=clean_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            try:
                httpx.get(f"{url}/v1/bots/{SLOW_BOT_ID}", headers={"Authorization": "Bearer t"}, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def _retrieve_codes(url: str, times: int) -> list[int]:
    """Start a slow chat, then retrieve it ``times`` times back to back: the envelope codes."""
    auth = {"Authorization": "Bearer t"}
    with httpx.Client(base_url=url, headers=auth, timeout=10) as http:
        question = {"role": "user", "content": "hi", "content_type": "text"}
        body = {"bot_id": SLOW_BOT_ID, "user_id": "u", "stream": False, "additional_messages": [question]}
        chat = http.post("/v3/chat", json=body).json()["data"]
        query = {"conversation_id": chat["conversation_id"], "chat_id": chat["id"]}
        return [http.get("/v3/chat/retrieve", params=query).json()["code"] for _ in range(times)]


def test_a_tight_poller_is_refused_by_default(tmp_path: Path) -> None:
    with _emulator(tmp_path) as url:
        codes = _retrieve_codes(url, 5)
        assert codes[:2] == [0, 0]
        assert 4013 in codes


def test_no_poll_limit_lets_it_poll(tmp_path: Path) -> None:
    with _emulator(tmp_path, "--no-poll-limit") as url:
        assert _retrieve_codes(url, 5) == [0, 0, 0, 0, 0]
